"""The SVG read back as XML: a box per step in its state's colours, a path per edge, in view."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET

from adapters.visualization.graph import step_graph
from adapters.visualization.palette import PALETTE
from adapters.visualization.svg import escape, path_data, render_svg
from domain.run_statuses import StepStatus
from tests.unit.visual_graphs import definition, diamond

NS = {"svg": "http://www.w3.org/2000/svg"}


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def nodes(root: ET.Element) -> dict[str, ET.Element]:
    return {g.get("data-step"): g for g in root.iterfind(".//svg:g[@data-step]", NS)}


def rect_of(node: ET.Element) -> tuple[float, float, float, float]:
    rect = node.find("svg:rect", NS)
    assert rect is not None
    return tuple(float(rect.get(k)) for k in ("x", "y", "width", "height"))  # type: ignore[return-value]


def test_each_step_is_one_box_coloured_by_its_state_in_the_run() -> None:
    root = parse(render_svg(diamond(with_run=True)))

    found = nodes(root)

    assert list(found) == ["build", "test", "lint", "deploy"]
    states = {name: g.get("data-state") for name, g in found.items()}
    assert states == {
        "build": "succeeded",
        "test": "failed",
        "lint": "succeeded",
        "deploy": "skipped",
    }
    for name, g in found.items():
        [rect] = g.findall("svg:rect", NS)
        colours = PALETTE[states[name]]
        assert (rect.get("fill"), rect.get("stroke")) == (colours.fill, colours.stroke)
        assert f"state-{states[name]}" in g.get("class", "").split()
    texts = ["".join(t.itertext()) for t in found["test"].iterfind("svg:text", NS)]
    assert texts == ["test", "pytest -q", "failed (exit 1) · attempt 3/3 · 8.1 s"]


def test_each_edge_is_one_arrowed_path_between_its_steps() -> None:
    root = parse(render_svg(diamond()))

    paths = root.findall(".//svg:path[@class='edge']", NS)

    assert [(p.get("data-from"), p.get("data-to")) for p in paths] == [
        ("build", "test"),
        ("build", "lint"),
        ("test", "deploy"),
        ("lint", "deploy"),
    ]
    assert all(p.get("marker-end") == "url(#arrow)" for p in paths)
    assert root.find(".//svg:marker[@id='arrow']", NS) is not None


def test_the_view_box_holds_every_box_and_no_two_boxes_overlap() -> None:
    root = parse(render_svg(diamond(with_run=True)))
    _, _, width, height = map(float, root.get("viewBox", "").split())

    boxes = [rect_of(g) for g in nodes(root).values()]

    for x, y, w, h in boxes:
        assert 0 <= x <= x + w <= width and 0 <= y <= y + h <= height
    for (ax, ay, aw, ah), (bx, by, bw, bh) in itertools.combinations(boxes, 2):
        assert ax + aw <= bx or bx + bw <= ax or ay + ah <= by or by + bh <= ay
    assert (float(root.get("width", 0)), float(root.get("height", 0))) == (width, height)


def test_text_from_the_definition_is_escaped_and_kept_valid_xml() -> None:
    steps = [{"name": "evil", "run": 'echo "<script>alert(1)</script>" && x\x1b[31m'}]
    svg = render_svg(step_graph(definition(steps, name="a <b> & c"), "a <b> & c · version 1"))

    root = parse(svg)

    assert "<script>" not in svg
    [g] = nodes(root).values()
    command = "".join(list(g.iterfind("svg:text", NS))[1].itertext())
    assert command == 'echo "<script>alert(1)</script>" && x\ufffd[31m'
    assert root.findtext("svg:title", namespaces=NS) == "a <b> & c · version 1"
    assert escape('"&<>') == "&quot;&amp;&lt;&gt;"


def test_colours_are_attributes_so_a_strict_content_security_policy_keeps_them() -> None:
    root = parse(render_svg(diamond(with_run=True)))

    assert root.find(".//svg:style", NS) is None
    assert not [e.tag for e in root.iter() if "style" in e.attrib]


def test_a_run_brings_a_legend_of_every_step_status_and_a_definition_none() -> None:
    with_run = parse(render_svg(diamond(with_run=True)))
    plain = parse(render_svg(diamond()))

    legend = [g.get("data-state") for g in with_run.iterfind(".//svg:g[@class='legend-item']", NS)]

    assert legend == [status.value for status in StepStatus]
    assert plain.find(".//svg:g[@class='legend']", NS) is None
    assert {g.get("data-state") for g in nodes(plain).values()} == {"defined"}


def test_a_long_name_is_shortened_in_the_box_and_whole_in_its_tooltip() -> None:
    name = "x" * 100
    root = parse(render_svg(step_graph(definition([{"name": name, "run": "true"}]), "t")))

    [g] = nodes(root).values()

    assert "".join(g.find("svg:text", NS).itertext()) == "x" * 31 + "…"  # type: ignore[union-attr]
    assert g.findtext("svg:title", namespaces=NS).startswith(name)  # type: ignore[union-attr]


def test_routes_curve_between_levels_and_run_straight_across_slots() -> None:
    assert path_data([(0, 10), (40, 10)]) == "M0,10 L40,10"
    assert path_data([(0, 10), (40, 30)]) == "M0,10 C20,10 20,30 40,30"
