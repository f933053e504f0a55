"""A cache key template: literal text and `${{ hashFiles('glob', ...) }}`, parsed and checked.

The syntax is GitHub Actions' (`${{ hashFiles('uv.lock') }}`); `hashFiles` is the one
function a cache key may call. The runner evaluates it (adapters/runner/files/hashfiles.py):
the sha256 of the matching files' contents, in path order, or "" when none match.
"""

from __future__ import annotations

import re

import msgspec

from domain.errors import InvalidValue

KEY_TEMPLATE_MAX = 512
LITERAL = re.compile(r"[A-Za-z0-9._/+-]*")
_EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
_CALL = re.compile(r"\s*hashFiles\((.*)\)\s*", re.DOTALL)
_ARGUMENT = re.compile(r"\s*'([^'\\]*)'\s*(,|$)")


class HashFiles(msgspec.Struct, frozen=True):
    """One `${{ hashFiles(...) }}`: the globs whose files it hashes."""

    globs: tuple[str, ...]


Part = str | HashFiles


def parse_key(template: str, at: str) -> tuple[Part, ...]:
    """The template as literal text and hashFiles calls; InvalidValue at `at` if malformed."""
    if not template or len(template) > KEY_TEMPLATE_MAX:
        raise InvalidValue(at, f"must be 1-{KEY_TEMPLATE_MAX} characters")
    parts: list[Part] = []
    end = 0
    for found in _EXPRESSION.finditer(template):
        parts.append(_literal(template[end : found.start()], at))
        parts.append(_hash_files(found.group(1), at))
        end = found.end()
    parts.append(_literal(template[end:], at))
    return tuple(part for part in parts if part != "")


def _literal(text: str, at: str) -> str:
    if "${{" in text or "}}" in text:
        raise InvalidValue(at, "an expression must be written `${{ hashFiles('glob') }}`")
    if not LITERAL.fullmatch(text):
        raise InvalidValue(at, f"{text!r}: literal text is letters, digits and . _ / + -")
    return text


def _hash_files(expression: str, at: str) -> HashFiles:
    call = _CALL.fullmatch(expression)
    if call is None:
        raise InvalidValue(at, f"{expression.strip()!r}: the one function here is hashFiles")
    rest, globs = call.group(1), []
    while rest.strip():
        argument = _ARGUMENT.match(rest)
        if argument is None or not argument.group(1):
            raise InvalidValue(at, "hashFiles takes one or more quoted globs: hashFiles('a')")
        globs.append(argument.group(1))
        rest = rest[argument.end() :]
    if not globs:
        raise InvalidValue(at, "hashFiles takes one or more quoted globs: hashFiles('a')")
    return HashFiles(tuple(globs))
