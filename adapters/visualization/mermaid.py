"""A step graph as Mermaid flowchart text: safe ids, escaped labels, a class per run state."""

from __future__ import annotations

import re

from adapters.visualization.graph import StepGraph
from adapters.visualization.labels import state_key, state_line
from adapters.visualization.palette import PALETTE

_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_]")
# Words the flowchart grammar reads as keywords, whatever the case of a bare id.
_RESERVED = frozenset(
    {"end", "graph", "flowchart", "subgraph", "style", "class", "classdef", "click",
     "linkstyle", "default", "direction", "call", "href", "callback"}
)  # fmt: skip
# Characters that mean nothing to Mermaid inside a quoted label; the rest become entity codes.
_PLAIN = frozenset(" .,:/()[]+=-_'!?@$^~")


def mermaid_ids(names: list[str]) -> dict[str, str]:
    """Distinct Mermaid ids, from each name: only letters, digits and `_`, never a keyword."""
    ids: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        base = _UNSAFE_ID.sub("_", name) or "step"
        if base.lower() in _RESERVED or base[0].isdigit():
            base = f"step_{base}"
        candidate, n = base, 1
        while candidate.lower() in taken:
            n += 1
            candidate = f"{base}_{n}"
        ids[name] = candidate
        taken.add(candidate.lower())
    return ids


def label(text: str) -> str:
    """`text` for inside a quoted Mermaid label: markup and quotes as `#code;` entities."""
    out = []
    for char in " ".join(text.split()):
        if char.isalnum() or char in _PLAIN or ord(char) > 127:
            out.append(char)
        elif char == '"':
            out.append("#quot;")
        else:
            out.append(f"#{ord(char)};")
    return "".join(out)


def mermaid(graph: StepGraph) -> str:
    """`flowchart LR`: a node per step, an arrow per need; with a run, a class per state."""
    ids = mermaid_ids([node.name for node in graph.nodes])
    lines = ["flowchart LR"]
    for node in graph.nodes:
        text = label(node.name)
        if graph.with_run:
            text += "<br/>" + label(state_line(node, with_run=True))
        lines.append(f'    {ids[node.name]}["{text}"]')
    lines += [f"    {ids[edge.source]} --> {ids[edge.target]}" for edge in graph.edges]
    if graph.with_run:
        members: dict[str, list[str]] = {}
        for node in graph.nodes:
            members.setdefault(state_key(node, with_run=True), []).append(ids[node.name])
        for key, colours in PALETTE.items():
            if key in members:
                style = f"fill:{colours.fill},stroke:{colours.stroke},color:{colours.text}"
                dashes = ",stroke-dasharray:5 3" if colours.dashed else ""
                lines.append(f"    classDef {key} {style}{dashes}")
        for key in PALETTE:
            if key in members:
                lines.append(f"    class {','.join(members[key])} {key}")
    return "\n".join(lines) + "\n"
