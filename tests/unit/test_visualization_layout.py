"""The layered layout: ranks by longest path, few crossings, boxes apart, routes between them."""

from __future__ import annotations

import itertools

import pytest

from adapters.visualization import layout
from adapters.visualization.layout import Box, Layout, Size, crossings, lay_out, layered
from adapters.visualization.placement import place

DIAMOND = [("build", "test"), ("build", "lint"), ("test", "deploy"), ("lint", "deploy")]


def sized(*names: str, width: float = 120, height: float = 60) -> list[tuple[str, Size]]:
    return [(name, Size(width, height)) for name in names]


def overlapping(a: Box, b: Box) -> bool:
    return a.x < b.right and b.x < a.right and a.y < b.bottom and b.y < a.bottom


def assert_apart(result: Layout) -> None:
    for (na, a), (nb, b) in itertools.combinations(result.boxes.items(), 2):
        assert not overlapping(a, b), (na, nb)


def test_a_step_sits_one_layer_after_its_longest_chain_of_needs() -> None:
    edges = [("a", "b"), ("b", "c"), ("a", "c"), ("c", "d"), ("a", "d")]

    assert layered(["a", "b", "c", "d", "e"], edges) == (("a", "e"), ("b",), ("c",), ("d",))


def test_the_diamond_has_three_layers_and_every_edge_goes_right() -> None:
    result = lay_out(sized("build", "test", "lint", "deploy"), DIAMOND)

    assert result.layers == (("build",), ("test", "lint"), ("deploy",))
    for route in result.routes:
        source, target = result.boxes[route.source], result.boxes[route.target]
        assert route.points[0][0] == source.right and route.points[-1][0] == target.x
        assert source.y <= route.points[0][1] <= source.bottom
        assert target.y <= route.points[-1][1] <= target.bottom
    assert [(r.source, r.target) for r in result.routes] == DIAMOND
    assert_apart(result)


def test_ordering_undoes_crossings_the_declaration_order_would_draw() -> None:
    # Declared as a1 a2 / b2 b1 with a1->b1 and a2->b2: drawn as declared, the edges cross.
    names = ["a1", "a2", "b2", "b1"]
    edges = [("a1", "b1"), ("a2", "b2")]
    as_declared = crossings([[0, 1], [2, 3]], [[0, 3], [1, 2]])

    result = layered(names, edges)

    assert as_declared == 1
    assert result == (("a1", "a2"), ("b1", "b2"))


def test_a_long_edge_runs_through_slots_clear_of_the_boxes_it_passes() -> None:
    edges = [("a", "b"), ("b", "c"), ("c", "d"), ("a", "d"), ("x", "b"), ("x", "c")]

    result = lay_out(sized("a", "b", "c", "d", "x"), edges)

    [long] = [r for r in result.routes if (r.source, r.target) == ("a", "d")]
    assert len(long.points) == 2 + 2 * 2  # two ports, and a slot in each of the two middle layers
    for x, y in long.points[1:-1]:
        for box in result.boxes.values():
            assert not (box.x < x < box.right and box.y < y < box.bottom)
    assert_apart(result)


def test_the_same_graph_always_lays_out_the_same() -> None:
    nodes = sized(*"abcdefgh", width=140)
    edges = [("a", "c"), ("b", "c"), ("a", "d"), ("c", "e"), ("d", "f"), ("b", "g"), ("g", "h")]

    assert lay_out(nodes, edges) == lay_out(list(nodes), list(edges))


def test_boxes_take_their_columns_width_and_stay_apart_in_a_wide_layer() -> None:
    nodes = [("root", Size(100, 60))] + [(f"leaf{i}", Size(80 + 10 * i, 60)) for i in range(8)]
    edges = [("root", f"leaf{i}") for i in range(8)]

    result = lay_out(nodes, edges, origin=(24, 60))

    assert {result.boxes[f"leaf{i}"].width for i in range(8)} == {150}
    assert min(box.y for box in result.boxes.values()) == 60
    assert result.width == max(box.right for box in result.boxes.values())
    assert result.height == max(box.bottom for box in result.boxes.values())
    assert_apart(result)


def test_a_dense_graph_past_the_slot_limit_draws_long_edges_direct() -> None:
    names = [f"s{i}" for i in range(80)]
    edges = [(names[i], names[j]) for j in range(80) for i in range(j)]  # each needs all before

    result = lay_out(sized(*names), edges)

    assert sum(j - i - 1 for j in range(80) for i in range(j)) > layout.SLOT_LIMIT
    assert len(result.layers) == 80
    assert all(len(route.points) == 2 for route in result.routes)
    assert_apart(result)


def test_a_cycle_or_a_self_need_is_refused() -> None:
    with pytest.raises(ValueError, match="cycle"):
        layered(["a", "b"], [("a", "b"), ("b", "a")])
    with pytest.raises(ValueError, match="itself"):
        layered(["a"], [("a", "a")])
    with pytest.raises(ValueError, match="unique"):
        layered(["a", "a"], [])


def test_placement_keeps_order_and_gaps_while_pulling_toward_neighbours() -> None:
    # Column 0: a over b; column 1: c needs only b, so it moves level with b.
    tops = place([[0, 1], [2]], [60, 60, 60], {2: [1]}, {1: [2]}, gap=20)

    assert tops[1] - tops[0] >= 80
    assert tops[2] == pytest.approx(tops[1])
    assert min(tops.values()) == 0
