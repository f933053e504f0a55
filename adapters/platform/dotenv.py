"""The dotenv files settings are layered from: KEY=VALUE lines, as most tools write them."""

from __future__ import annotations

import re

_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=(.*)$")
_QUOTED = {
    "'": re.compile(r"^'([^']*)'\s*(?:#.*)?$"),
    '"': re.compile(r'^"((?:[^"\\]|\\.)*)"\s*(?:#.*)?$'),
}
_ESCAPE = re.compile(r"\\(.)")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


def parse_dotenv(text: str, source: str, problems: list[str]) -> list[tuple[str, str]]:
    """Parse KEY=VALUE lines (optional `export `, # comments, '…' literal, "…" with escapes)."""
    pairs = []
    for lineno, line in enumerate(text.splitlines(), 1):
        match = _LINE.match(line)
        if match is None:
            if line.strip() and not line.lstrip().startswith("#"):
                problems.append(f"{source}:{lineno}: expected KEY=VALUE, got {line.strip()!r}")
            continue
        key, rest = match.group(1), match.group(2).strip()
        if rest[:1] in ("'", '"'):
            quoted = _QUOTED[rest[0]].match(rest)
            if quoted is None:
                problems.append(f"{source}:{lineno}: unterminated quote in value of {key}")
                continue
            value = quoted.group(1)
            if rest[0] == '"':
                value = _ESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(0)), value)
        else:
            value = re.split(r"\s#", rest, maxsplit=1)[0].strip()
        pairs.append((key, value))
    return pairs
