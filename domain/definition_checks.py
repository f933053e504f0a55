"""The small rules a pipeline definition's fields share: text, patterns, ranges, no repeats."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Protocol

from domain.errors import InvalidValue
from domain.limits import clean

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")
_IDENTIFIER_RULE = "a letter or '_', then letters, digits or '_' (1-100)"
_KEYWORD = re.compile(r"[A-Za-z0-9_.:-]{1,100}")


class Named(Protocol):
    @property
    def name(self) -> str: ...


def check_text(value: str, field: str, max_len: int, *, blank: bool = False) -> None:
    clean(field, value)
    if not blank and not value.strip():
        raise InvalidValue(field, "must not be blank")
    if len(value) > max_len:
        raise InvalidValue(field, f"at most {max_len} characters")


def check_pattern(value: str, pattern: re.Pattern[str], field: str, rule: str) -> None:
    if not pattern.fullmatch(value):
        raise InvalidValue(field, f"{value!r}: must be {rule}")


def check_identifier(value: str, field: str) -> None:
    check_pattern(value, _IDENTIFIER, field, _IDENTIFIER_RULE)


def check_int_range(value: int, low: int, high: int, field: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidValue(field, f"must be an integer from {low} to {high}")


def check_unique(values: Iterable[str], field: str, what: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise InvalidValue(field, f"{what} {value!r} is listed twice")
        seen.add(value)


def check_unique_names(items: Iterable[Named], field: str, what: str) -> None:
    seen: set[str] = set()
    for i, item in enumerate(items):
        if item.name in seen:
            raise InvalidValue(f"{field}[{i}].name", f"duplicate {what} name {item.name!r}")
        seen.add(item.name)


def check_keywords(values: tuple[str, ...], field: str, what: str) -> None:
    check_unique(values, field, what)
    for value in values:
        check_pattern(value, _KEYWORD, field, "1-100 letters, digits, '_', '.', ':' or '-'")
