"""A layered, left-to-right layout of a DAG: ranks, a crossing-reducing order, boxes, routes.

Ranks are the longest path from a root. An edge that spans several ranks passes through one
virtual slot per rank it crosses, so it runs between the boxes rather than through them, and
takes part in the ordering. Every step is a pure function of its input: same graph, same picture.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from itertools import pairwise
from typing import NamedTuple

import msgspec

from adapters.visualization.placement import place

H_GAP = 80.0
V_GAP = 28.0
SLOT_HEIGHT = 10.0
"""The height a long edge takes in a column it crosses."""
SLOT_LIMIT = 2000
"""Past this many virtual slots (a dense DAG of many ranks), long edges are drawn direct."""
SWEEPS = 12

Point = tuple[float, float]


class Size(NamedTuple):
    width: float
    height: float


class Box(msgspec.Struct, frozen=True):
    x: float
    y: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.x + self.width

    @property
    def bottom(self) -> float:
        return self.y + self.height


class Route(msgspec.Struct, frozen=True):
    """An edge's polyline, from a port on the source's right side to one on the target's left."""

    source: str
    target: str
    points: tuple[Point, ...]


class Layout(msgspec.Struct, frozen=True):
    layers: tuple[tuple[str, ...], ...]
    """The names by rank, each rank top to bottom."""
    boxes: dict[str, Box]
    routes: tuple[Route, ...]
    """In the order the edges were given."""
    width: float
    height: float
    """With `height`, the far corner: the right edge of the last column, the lowest box's foot."""


class _Ordered(NamedTuple):
    layers: list[list[int]]
    """Node indices by rank, in their final order; indices past the real nodes are slots."""
    chains: list[list[int]]
    """Per edge: source, the slots it passes through, target."""
    real: int


def layered(names: Sequence[str], edges: Sequence[tuple[str, str]]) -> tuple[tuple[str, ...], ...]:
    """The names grouped by rank (longest path from a root), ordered to cross few edges."""
    ordered = _order(names, edges)
    return tuple(tuple(names[v] for v in layer if v < ordered.real) for layer in ordered.layers)


def lay_out(
    nodes: Sequence[tuple[str, Size]], edges: Sequence[tuple[str, str]], origin: Point = (0, 0)
) -> Layout:
    """Boxes in columns by rank, each as wide as its column's widest size, and edge routes."""
    names = [name for name, _ in nodes]
    sizes = [size for _, size in nodes]
    ordered = _order(names, edges)
    sizes += [Size(0.0, SLOT_HEIGHT)] * (_count(ordered) - ordered.real)
    columns = [max(sizes[v].width for v in layer) for layer in ordered.layers]
    before, after = _neighbours(ordered.chains)
    tops = place(ordered.layers, [size.height for size in sizes], before, after, V_GAP)
    boxes: dict[int, Box] = {}
    left = origin[0]
    for rank, layer in enumerate(ordered.layers):
        for v in layer:
            # Boxes take their column's width, so a column reads as one; a slot spans it
            # too, so a long edge runs straight across.
            boxes[v] = Box(left, origin[1] + tops[v], columns[rank], sizes[v].height)
        left += columns[rank] + H_GAP
    routes = _routes(ordered, boxes, names)
    return Layout(
        layers=tuple(
            tuple(names[v] for v in layer if v < ordered.real) for layer in ordered.layers
        ),
        boxes={names[v]: boxes[v] for v in range(ordered.real)},
        routes=routes,
        width=left - H_GAP,
        height=max(box.bottom for box in boxes.values()),
    )


def crossings(layers: Sequence[Sequence[int]], chains: Sequence[Sequence[int]]) -> int:
    """How many pairs of edge segments cross between neighbouring ranks."""
    where = {v: (rank, i) for rank, layer in enumerate(layers) for i, v in enumerate(layer)}
    by_gap: dict[int, list[tuple[int, int]]] = {}
    for chain in chains:
        for u, v in pairwise(chain):
            (ru, pu), (rv, pv) = where[u], where[v]
            if rv == ru + 1:
                by_gap.setdefault(ru, []).append((pu, pv))
    return sum(_inversions(sorted(pairs)) for pairs in by_gap.values())


def _inversions(pairs: list[tuple[int, int]]) -> int:
    """Pairs i < j whose second members are out of order: a Fenwick tree over targets."""
    size = max(v for _, v in pairs) + 2
    tree = [0] * (size + 1)
    total = 0
    for seen, (_, target) in enumerate(pairs):
        i, at_most = target + 1, 0
        while i > 0:
            at_most += tree[i]
            i -= i & -i
        total += seen - at_most
        i = target + 1
        while i <= size:
            tree[i] += 1
            i += i & -i
    return total


def _order(names: Sequence[str], edges: Sequence[tuple[str, str]]) -> _Ordered:
    index = {name: i for i, name in enumerate(names)}
    if len(index) != len(names):
        raise ValueError("node names must be unique")
    pairs = [(index[a], index[b]) for a, b in edges]
    rank = _ranks(len(names), pairs)
    slots = sum(rank[b] - rank[a] - 1 for a, b in pairs)
    layers: list[list[int]] = [[] for _ in range(max(rank, default=0) + 1)]
    for v, r in enumerate(rank):
        layers[r].append(v)
    chains: list[list[int]] = []
    next_slot = len(names)
    for a, b in pairs:
        chain = [a]
        if slots <= SLOT_LIMIT:
            for r in range(rank[a] + 1, rank[b]):
                layers[r].append(next_slot)
                chain.append(next_slot)
                next_slot += 1
        chains.append([*chain, b])
    return _Ordered(_reduce_crossings(layers, chains), chains, len(names))


def _ranks(count: int, pairs: Sequence[tuple[int, int]]) -> list[int]:
    """Longest path from a root, in Kahn's order; a cycle is a ValueError."""
    successors: list[list[int]] = [[] for _ in range(count)]
    waiting = [0] * count
    for a, b in pairs:
        if a == b:
            raise ValueError("a node cannot need itself")
        successors[a].append(b)
        waiting[b] += 1
    rank = [0] * count
    ready = deque(v for v in range(count) if waiting[v] == 0)
    placed = 0
    while ready:
        v = ready.popleft()
        placed += 1
        for s in successors[v]:
            rank[s] = max(rank[s], rank[v] + 1)
            waiting[s] -= 1
            if waiting[s] == 0:
                ready.append(s)
    if placed < count:
        raise ValueError("the edges form a cycle")
    return rank


def _reduce_crossings(layers: list[list[int]], chains: list[list[int]]) -> list[list[int]]:
    """Barycenter sweeps down and up, keeping the order with the fewest crossings seen."""
    before, after = _neighbours(chains)
    best = [list(layer) for layer in layers]
    fewest = crossings(best, chains)
    current = [list(layer) for layer in layers]
    for _ in range(SWEEPS):
        if fewest == 0:
            break
        _sweep(current, range(1, len(current)), before)
        _sweep(current, range(len(current) - 2, -1, -1), after)
        found = crossings(current, chains)
        if found < fewest:
            best, fewest = [list(layer) for layer in current], found
    return best


def _neighbours(chains: list[list[int]]) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
    """Each item's neighbours in the column before it, and in the column after it."""
    before: dict[int, list[int]] = {}
    after: dict[int, list[int]] = {}
    for chain in chains:
        for u, v in pairwise(chain):
            after.setdefault(u, []).append(v)
            before.setdefault(v, []).append(u)
    return before, after


def _sweep(layers: list[list[int]], ranks: range, neighbours: dict[int, list[int]]) -> None:
    position = {v: i for layer in layers for i, v in enumerate(layer)}
    for rank in ranks:

        def barycenter(v: int) -> tuple[float, int]:
            near = neighbours.get(v)
            centre = sum(position[u] for u in near) / len(near) if near else position[v]
            return centre, position[v]

        layers[rank].sort(key=barycenter)
        position.update((v, i) for i, v in enumerate(layers[rank]))


def _count(ordered: _Ordered) -> int:
    return sum(len(layer) for layer in ordered.layers)


def _routes(
    ordered: _Ordered,
    boxes: dict[int, Box],
    names: Sequence[str],
) -> tuple[Route, ...]:
    """Each edge's points; the edges meeting one side of a box share it out, top to bottom."""
    leaving: dict[int, list[int]] = {}
    arriving: dict[int, list[int]] = {}
    for e, chain in enumerate(ordered.chains):
        leaving.setdefault(chain[0], []).append(e)
        arriving.setdefault(chain[-1], []).append(e)

    def middle(v: int) -> float:
        return boxes[v].y + boxes[v].height / 2

    def ports(v: int, es: list[int], far: int) -> dict[int, float]:
        es = sorted(es, key=lambda e: (middle(ordered.chains[e][far]), e))
        box = boxes[v]
        # Ports stay in the middle half of the side, clear of the rounded corners.
        share = 0.5 / (len(es) + 1)
        return {e: box.y + box.height * (0.25 + share * (i + 1)) for i, e in enumerate(es)}

    out = {e: y for v, es in leaving.items() for e, y in ports(v, es, 1).items()}
    into = {e: y for v, es in arriving.items() for e, y in ports(v, es, -2).items()}
    routes = []
    for e, chain in enumerate(ordered.chains):
        points: list[Point] = [(boxes[chain[0]].right, out[e])]
        for slot in chain[1:-1]:
            y = middle(slot)
            points += [(boxes[slot].x, y), (boxes[slot].right, y)]
        points.append((boxes[chain[-1]].x, into[e]))
        routes.append(Route(names[chain[0]], names[chain[-1]], tuple(points)))
    return tuple(routes)
