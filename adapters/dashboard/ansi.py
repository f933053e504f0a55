"""ANSI colours of log lines as HTML spans: text escaped first, only known SGR codes kept."""

from __future__ import annotations

import html
import re

_SGR = re.compile(r"\x1b\[([0-9;]*)m")
# Any other escape sequence (cursor moves, titles) is dropped, never passed to the page.
_OTHER = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07]*\x07|.)")
_COLOURS = {30: "black", 31: "red", 32: "green", 33: "yellow", 34: "blue", 35: "magenta"}
_COLOURS |= {36: "cyan", 37: "white", 90: "grey"}


def to_html(text: str) -> str:
    """The text as safe HTML; colours and bold become `ansi-*` classes of the stylesheet."""
    out: list[str] = []
    classes: list[str] = []
    last = 0
    for match in _SGR.finditer(text):
        out.append(_span(text[last : match.start()], classes))
        classes = _apply(classes, match.group(1))
        last = match.end()
    out.append(_span(text[last:], classes))
    return "".join(out)


def _span(raw: str, classes: list[str]) -> str:
    escaped = html.escape(_OTHER.sub("", raw))
    if not escaped or not classes:
        return escaped
    return f'<span class="{" ".join(classes)}">{escaped}</span>'


def _apply(classes: list[str], params: str) -> list[str]:
    codes = [int(p) for p in params.split(";") if p.isdigit()] or [0]
    now = list(classes)
    for code in codes:
        if code == 0:
            now = []
        elif code == 1:
            now = [*now, "ansi-bold"]
        elif code in _COLOURS or 90 <= code <= 97:
            colour = _COLOURS.get(code, _COLOURS.get(code - 60, "grey"))
            now = [c for c in now if not c.startswith("ansi-fg-")] + [f"ansi-fg-{colour}"]
        elif code == 39:
            now = [c for c in now if not c.startswith("ansi-fg-")]
    return now
