"""Vertical places within ordered columns: each item near its neighbours, none overlapping.

Each sweep moves a column's items toward the mean height of their neighbours in the column
before it (or after it), as close as the order and the gaps allow: an isotonic regression,
solved exactly by pooling adjacent violators. Edges come out straighter than with centred
stacks, and a long edge's slots line up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

SWEEPS = 6


def place(
    layers: Sequence[Sequence[int]],
    heights: Sequence[float],
    before: Mapping[int, Sequence[int]],
    after: Mapping[int, Sequence[int]],
    gap: float,
) -> dict[int, float]:
    """Each item's top, the highest at 0; `layers` hold item indices in their fixed order."""
    middle: dict[int, float] = {}
    tallest = max(_stack_height(layer, heights, gap) for layer in layers)
    for layer in layers:
        top = (tallest - _stack_height(layer, heights, gap)) / 2
        for v in layer:
            middle[v] = top + heights[v] / 2
            top += heights[v] + gap
    for _ in range(SWEEPS):
        for layer in layers[1:]:
            _settle(layer, heights, gap, before, middle)
        for layer in reversed(layers[:-1]):
            _settle(layer, heights, gap, after, middle)
    highest = min(middle[v] - heights[v] / 2 for v in middle)
    return {v: middle[v] - heights[v] / 2 - highest for v in sorted(middle)}


def _stack_height(layer: Sequence[int], heights: Sequence[float], gap: float) -> float:
    return sum(heights[v] for v in layer) + gap * (len(layer) - 1)


def _settle(
    layer: Sequence[int],
    heights: Sequence[float],
    gap: float,
    neighbours: Mapping[int, Sequence[int]],
    middle: dict[int, float],
) -> None:
    wanted = []
    for v in layer:
        near = neighbours.get(v)
        wanted.append(sum(middle[u] for u in near) / len(near) if near else middle[v])
    # Middles must rise by at least `spacing` from one item to the next; shifting each by the
    # spacing before it turns that into "never decreasing", which pooling solves.
    shift, offsets = 0.0, []
    for i, v in enumerate(layer):
        if i:
            shift += heights[layer[i - 1]] / 2 + gap + heights[v] / 2
        offsets.append(shift)
    fitted = _non_decreasing([w - o for w, o in zip(wanted, offsets, strict=True)])
    for v, value, offset in zip(layer, fitted, offsets, strict=True):
        middle[v] = value + offset


def _non_decreasing(targets: list[float]) -> list[float]:
    """The non-decreasing sequence nearest to `targets` in squared distance."""
    blocks: list[list[float]] = []  # [mean, count]
    for target in targets:
        blocks.append([target, 1.0])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            mean, count = blocks.pop()
            last = blocks[-1]
            last[0] = (last[0] * last[1] + mean * count) / (last[1] + count)
            last[1] += count
    out: list[float] = []
    for mean, count in blocks:
        out += [mean] * int(count)
    return out
