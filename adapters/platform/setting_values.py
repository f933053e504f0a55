"""How a setting's text becomes its value: the rules several settings share.

Each rule takes the raw text and the folder relative paths are read against, and returns
the value or raises ValueError saying what was expected.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

Parse = Callable[[str, Path], Any]


def int_in(low: int, high: int, expectation: str) -> Callable[[str, Path], int]:
    def parse(raw: str, _cwd: Path) -> int:
        try:
            value = int(raw)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise ValueError(expectation)
        return value

    return parse


port = int_in(1, 65535, "expected an integer port between 1 and 65535")
# At least 3: the event store's group commit holds 2 while it flushes.
pool_size = int_in(3, 1000, "expected 3 to 1000 connections")


def one_of(*allowed: str) -> Callable[[str, Path], str]:
    def parse(raw: str, _cwd: Path) -> str:
        if raw.lower() not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)}")
        return raw.lower()

    return parse


def folder(raw: str, cwd: Path) -> Path:
    return (cwd / Path(raw).expanduser()).resolve()


def flag(raw: str, _cwd: Path) -> bool:
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


def http_url(raw: str, _cwd: Path) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected an http:// or https:// URL")
    return raw


def short_name(raw: str, _cwd: Path) -> str:
    if len(raw) > 128:
        raise ValueError("expected at most 128 characters")
    return raw


def stream_name(raw: str, _cwd: Path) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", raw):
        raise ValueError("expected 1 to 64 letters, digits, `_` or `-` (a JetStream stream name)")
    return raw


def redact(value: str) -> str:
    # A rejected URL may still carry a real password; keep it out of error logs.
    return re.sub(r"(://[^:/@,]*:)[^@/,]*@", r"\1***@", value)
