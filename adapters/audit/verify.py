"""Tamper evidence: recompute the stored hash chains of one stream, or of every stream.

Rows as stored stream from one snapshot in big batches, in position order (the table's own
order, so the read is sequential: `audit_reader.chain_batches`), into `ChainChecker`.
Checking everything also proves the global positions have no hole, which catches an event
deleted at the end of its stream.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Literal

import asyncpg
import msgspec

from adapters.audit.chains import Break, ChainChecker
from adapters.store import audit_reader, reader

BATCH = 20_000
"""Rows per cursor fetch: large enough that round trips vanish, small enough to stay flat."""
MAX_BREAKS = 100
"""Breaks listed in a report; `broken_streams` and `position_gaps` still count all of them."""


class VerifyReport(msgspec.Struct, frozen=True, kw_only=True):
    """What a verification found: `ok` only if every chain recomputes and nothing is missing."""

    ok: bool
    scope: Literal["stream", "all"]
    stream_id: str | None
    """The stream checked (scope `stream`)."""
    head: int
    """The last position checked: the table's head when the check began (scope `all`)."""
    streams: int
    events: int
    seconds: float
    first_break: Break | None
    """The break at the lowest position: where the tampering shows first."""
    breaks: list[Break]
    """Each broken stream's first bad link and each hole in the positions, by position."""
    broken_streams: int
    position_gaps: int


async def verify_stream(conn: asyncpg.Connection, stream_id: str) -> VerifyReport | None:
    """Check one stream's chain; None if the stream has no events at all."""
    started = time.perf_counter()
    checker = ChainChecker(check_positions=False)
    head = await _drain(audit_reader.chain_batches(conn, stream_id, BATCH), checker)
    if checker.events == 0:
        return None
    return _report("stream", stream_id, head, checker, started)


async def verify_all(
    conn: asyncpg.Connection, progress: Callable[[int, int], None] | None = None
) -> VerifyReport:
    """Check every stream, and that positions 1..head have no hole, in one snapshot;
    `progress`, if given, hears (events checked, events to check) per batch."""
    started = time.perf_counter()
    checker = ChainChecker(check_positions=True)
    total = await reader.head(conn) if progress is not None else 0
    head = await _drain(audit_reader.chain_batches(conn, None, BATCH), checker, progress, total)
    return _report("all", None, head, checker, started)


async def _drain(
    batches: AsyncIterator[list[asyncpg.Record]],
    checker: ChainChecker,
    progress: Callable[[int, int], None] | None = None,
    total: int = 0,
) -> int:
    """Feed every row to `checker`; the last position read (0 for none)."""
    head = 0
    async for rows in batches:
        checker.feed(rows)
        head = rows[-1][0]
        if progress is not None:
            progress(checker.events, max(total, checker.events))
    return head


def _report(
    scope: Literal["stream", "all"],
    stream_id: str | None,
    head: int,
    checker: ChainChecker,
    started: float,
) -> VerifyReport:
    breaks = checker.finish()
    return VerifyReport(
        ok=not breaks,
        scope=scope,
        stream_id=stream_id,
        head=head,
        streams=checker.streams,
        events=checker.events,
        seconds=round(time.perf_counter() - started, 3),
        first_break=breaks[0] if breaks else None,
        breaks=breaks[:MAX_BREAKS],
        broken_streams=checker.broken_streams,
        position_gaps=checker.gaps,
    )
