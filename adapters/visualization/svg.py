"""A step graph drawn as a standalone SVG document: boxes coloured by state, curved arrows.

Colours are presentation attributes, never CSS: the API answers with a `default-src 'none'`
Content-Security-Policy, under which a browser ignores `<style>` and `style=""` in the image.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from adapters.visualization.graph import StepGraph, StepNode
from adapters.visualization.labels import NO_STATE, state_key, state_line
from adapters.visualization.layout import Layout, Point, Size, lay_out
from adapters.visualization.palette import EDGE, PALETTE, TEXT_MUTED
from domain.run_statuses import StepStatus

SANS = "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', Arial, sans-serif"
MONO = "ui-monospace, SFMono-Regular, Menlo, Consolas, 'DejaVu Sans Mono', monospace"
MARGIN = 24.0
HEADER = 44.0
LEGEND = 40.0
BOX_HEIGHT = 74.0
BOX_MIN_WIDTH = 160.0
PAD = 14.0
DOT = 12.0
"""Room left of the name for the state dot."""
NAME_CHARS = 32
DETAIL_CHARS = 44
# Average advance per character, generous so that text stays inside its box in common fonts.
NAME_EM, DETAIL_EM, MONO_EM = 0.62, 0.6, 0.62
NAME_PX, DETAIL_PX, TITLE_PX = 14.0, 11.5, 16.0

# XML 1.0 cannot carry these at all, not even as character references.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def escape(text: str) -> str:
    """`text` as XML character data or an attribute value in double quotes."""
    text = _NOT_XML.sub("\ufffd", text)
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def render_svg(graph: StepGraph) -> str:
    """The whole document: a title, the graph left to right, and (with a run) a legend."""
    lines = {node.name: _lines(node, graph.with_run) for node in graph.nodes}
    sizes = [(node.name, _size(*lines[node.name])) for node in graph.nodes]
    edges = [(edge.source, edge.target) for edge in graph.edges]
    layout = lay_out(sizes, edges, origin=(MARGIN, MARGIN + HEADER))
    keys = _legend_keys(graph)
    legend_width = sum(_legend_item_width(key) for key in keys)
    title = shorten(graph.title, 120)
    width = MARGIN + max(layout.width, MARGIN + legend_width, MARGIN + len(title) * TITLE_PX * 0.6)
    height = layout.height + (LEGEND if keys else 0) + MARGIN
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_n(width)}" height="{_n(height)}"'
        f' viewBox="0 0 {_n(width)} {_n(height)}" role="img" font-family="{escape(SANS)}">',
        f"<title>{escape(graph.title)}</title>",
        f'<rect class="background" width="{_n(width)}" height="{_n(height)}" fill="#ffffff"/>',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8"'
        f' markerHeight="8" orient="auto"><path d="M0,1 L10,5 L0,9 z" fill="{EDGE}"/></marker>'
        "</defs>",
        f'<text class="title" x="{_n(MARGIN)}" y="{_n(MARGIN + TITLE_PX)}" font-size="{TITLE_PX}"'
        f' font-weight="600" fill="#0f172a">{escape(title)}</text>',
        '<g class="edges">',
        *_edges(layout),
        "</g>",
        '<g class="nodes">',
        *(_node(node, graph.with_run, layout, lines[node.name]) for node in graph.nodes),
        "</g>",
        *_legend(keys, layout.height + LEGEND / 2 + 6),
        "</svg>",
    ]
    return "\n".join(parts) + "\n"


def path_data(points: Sequence[Point]) -> str:
    """Straight where a route runs level, else a curve leaving and entering horizontally."""
    (x0, y0), *rest = points
    out = [f"M{_n(x0)},{_n(y0)}"]
    for x1, y1 in rest:
        if abs(y1 - y0) < 0.5:
            out.append(f"L{_n(x1)},{_n(y1)}")
        else:
            bend = (x1 - x0) / 2
            out.append(f"C{_n(x0 + bend)},{_n(y0)} {_n(x1 - bend)},{_n(y1)} {_n(x1)},{_n(y1)}")
        x0, y0 = x1, y1
    return " ".join(out)


def _lines(node: StepNode, with_run: bool) -> tuple[str, str, str]:
    return (
        shorten(node.name, NAME_CHARS),
        shorten(node.command, DETAIL_CHARS),
        shorten(state_line(node, with_run), DETAIL_CHARS),
    )


def _size(name: str, command: str, state: str) -> Size:
    text = max(
        DOT + len(name) * NAME_PX * NAME_EM,
        len(command) * DETAIL_PX * MONO_EM,
        len(state) * DETAIL_PX * DETAIL_EM,
    )
    return Size(max(BOX_MIN_WIDTH, text + 2 * PAD), BOX_HEIGHT)


def _edges(layout: Layout) -> list[str]:
    return [
        f'<path class="edge" data-from="{escape(route.source)}" data-to="{escape(route.target)}"'
        f' d="{path_data(route.points)}" fill="none" stroke="{EDGE}" stroke-width="1.5"'
        ' marker-end="url(#arrow)"/>'
        for route in layout.routes
    ]


_HEAVY = frozenset({StepStatus.FAILED.value, StepStatus.TIMED_OUT.value, StepStatus.RUNNING.value})
"""States drawn with a heavier border: what a reader looks for first."""


def _node(node: StepNode, with_run: bool, layout: Layout, lines: tuple[str, str, str]) -> str:
    key = state_key(node, with_run)
    colours = PALETTE[key]
    box = layout.boxes[node.name]
    name, command, state = lines
    heavy = key in _HEAVY
    dashes = ' stroke-dasharray="6 4"' if colours.dashed else ""
    tip = " — ".join(p for p in (node.name, node.command, state_line(node, with_run)) if p)
    x, y = box.x + PAD, box.y
    return "".join(
        (
            f'<g class="node state-{key}" data-step="{escape(node.name)}" data-state="{key}">',
            f"<title>{escape(tip)}</title>",
            f'<rect x="{_n(box.x)}" y="{_n(box.y)}" width="{_n(box.width)}"'
            f' height="{_n(box.height)}" rx="10" fill="{colours.fill}" stroke="{colours.stroke}"'
            f' stroke-width="{2.5 if heavy else 1.5}"{dashes}/>',
            f'<circle cx="{_n(x + 4)}" cy="{_n(y + 20)}" r="4.5" fill="{colours.stroke}"/>',
            f'<text x="{_n(x + DOT + 2)}" y="{_n(y + 25)}" font-size="{NAME_PX}"'
            f' font-weight="600" fill="{colours.text}">{escape(name)}</text>',
            f'<text x="{_n(x)}" y="{_n(y + 45)}" font-size="{DETAIL_PX}" fill="{TEXT_MUTED}"'
            f' font-family="{escape(MONO)}">{escape(command)}</text>',
            f'<text x="{_n(x)}" y="{_n(y + 63)}" font-size="{DETAIL_PX}"'
            f' fill="{colours.text}">{escape(state)}</text>',
            "</g>",
        )
    )


def _legend_keys(graph: StepGraph) -> list[str]:
    if not graph.with_run:
        return []
    keys = [status.value for status in StepStatus]
    if any(node.status is None for node in graph.nodes):
        keys.append(NO_STATE)
    return keys


def _legend_text(key: str) -> str:
    return "no record" if key == NO_STATE else key.replace("_", " ")


def _legend_item_width(key: str) -> float:
    return 26 + len(_legend_text(key)) * DETAIL_PX * DETAIL_EM + 18


def _legend(keys: list[str], middle: float) -> list[str]:
    if not keys:
        return []
    parts = ['<g class="legend">']
    x = MARGIN
    for key in keys:
        colours = PALETTE[key]
        dashes = ' stroke-dasharray="3 2"' if colours.dashed else ""
        parts.append(
            f'<g class="legend-item" data-state="{key}"><rect x="{_n(x)}" y="{_n(middle - 7)}"'
            f' width="18" height="14" rx="4" fill="{colours.fill}" stroke="{colours.stroke}"'
            f' stroke-width="1.5"{dashes}/><text x="{_n(x + 24)}" y="{_n(middle + 4)}"'
            f' font-size="{DETAIL_PX}" fill="{TEXT_MUTED}">{_legend_text(key)}</text></g>'
        )
        x += _legend_item_width(key)
    parts.append("</g>")
    return parts


def _n(value: float) -> str:
    """A coordinate with at most one decimal, so the same layout prints the same bytes."""
    return f"{value:.1f}".removesuffix(".0")
