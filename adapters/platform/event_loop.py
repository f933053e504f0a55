"""Runs a long-lived role on uvloop where it is installed, else on asyncio's own loop.

Every role is I/O bound on many small messages (HTTP, PostgreSQL, NATS): uvloop's loop
costs each of them less CPU, which is the budget the dispatch path shares with the database
on a small machine. uvloop does not exist on Windows; asyncio's loop does the same work there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

try:
    import uvloop
except ImportError:  # pragma: no cover - Windows
    uvloop = None  # type: ignore[assignment]


T = TypeVar("T")


def run_role(main: Coroutine[Any, Any, T]) -> T:
    if uvloop is None:  # pragma: no cover - Windows
        return asyncio.run(main)
    return uvloop.run(main)
