"""append_batch's lean arguments (migration 0021) mean what every array given in full means: a
value the same for all sent once, no keys' array when no append has a key, no events' appends
when each append has one event. Each drawn batch is called both ways in one database, each call
in a transaction rolled back after: the answers, the events written (hashes included) and the
idempotency keys kept must be the same."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import asyncpg
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.store.append_batch import APPEND_BATCH, PendingAppend, batch_arguments
from adapters.store.encoding import NewEvent, prepare_events
from domain.envelope import EventMetadata
from tests.helpers import unique_id

WRITTEN = (
    "SELECT position, event_id, stream_id, stream_type, version, type, schema_version,"
    " recorded_at, data::text, metadata::text, hash FROM events WHERE position > $1"
    " ORDER BY position"
)
KEPT = (
    "SELECT key, stream_id, from_version, to_version, first_position, last_position, event_ids"
    " FROM idempotency_keys WHERE key = ANY($1::text[]) ORDER BY key"
)


def full_arguments(
    batch: Sequence[PendingAppend], at: datetime, canonical: object
) -> tuple[object, ...]:
    """0020's shape, every array in full; the canonical bytes (no part of the shape) given."""
    events = [(n, e) for n, p in enumerate(batch, start=1) for e in p.events]
    guards = [(n, g) for n, p in enumerate(batch, start=1) for g in p.guards]
    return (
        [p.stream_id for p in batch],
        [p.stream_type for p in batch],
        [p.expected_version for p in batch],
        [p.idempotency_key for p in batch],
        [n for n, _ in events],
        [e.event_id for _, e in events],
        [e.type for _, e in events],
        [e.schema_version for _, e in events],
        at,
        [e.data for _, e in events],
        [e.metadata for _, e in events],
        canonical,
        [n for n, _ in guards],
        [stream_id for _, (stream_id, _) in guards],
        [version for _, (_, version) in guards],
    )


events = st.lists(
    st.tuples(st.sampled_from(["RunStarted", "StepStarted"]), st.sampled_from([1, 2])),
    min_size=1,
    max_size=3,
)
appends = st.lists(
    st.fixed_dictionaries(
        {
            "stream": st.integers(0, 4),  # 0 and 1 exist (a run at version 1, 2); the rest new
            "stream_type": st.sampled_from(["run", "run", "job"]),
            "expected": st.integers(0, 2),
            "key": st.sampled_from([None, None, "used", "fresh"]),
            "actor": st.sampled_from([None, None, "ada"]),
            "events": events,
        }
    ),
    min_size=1,
    max_size=5,
    unique_by=lambda d: d["stream"],  # as the writer batches: one append per stream and key
)


async def _setup(url: str, prefix: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        for stream, count, key in ((0, 1, "used"), (1, 2, None)):
            batch = [_pending(prefix, stream, "run", 0, key, None, [("RunStarted", 1)] * count)]
            [row] = await conn.fetch(APPEND_BATCH, *batch_arguments(batch))
            assert row["status"] == "ok"
    finally:
        await conn.close()


def _pending(
    prefix: str,
    stream: int,
    stream_type: str,
    expected: int,
    key: str | None,
    actor: str | None,
    drawn: list[tuple[str, int]],
) -> PendingAppend:
    key = f"{prefix}-{key}-{stream}" if key == "fresh" else f"{prefix}-{key}" if key else None
    return PendingAppend(
        stream_id=f"{prefix}-{stream}",
        stream_type=stream_type,
        expected_version=expected,
        idempotency_key=key,
        events=prepare_events(
            events=[
                NewEvent(type=t, schema_version=v, data={"n": n}) for n, (t, v) in enumerate(drawn)
            ],
            metadata=EventMetadata(actor=actor, idempotency_key=key),
            max_event_bytes=1 << 16,
        ),
        future=asyncio.get_running_loop().create_future(),
    )


async def _called(
    conn: asyncpg.Connection, arguments: tuple[object, ...], keys: list[str]
) -> tuple[list[tuple[object, ...]], ...]:
    transaction = conn.transaction()
    await transaction.start()
    try:
        head = await conn.fetchval("SELECT coalesce(max(position), 0) FROM events")
        answers = await conn.fetch(APPEND_BATCH, *arguments)
        written = await conn.fetch(WRITTEN, head)
        kept = await conn.fetch(KEPT, keys)
    finally:
        await transaction.rollback()
    return tuple([tuple(row.values()) for row in rows] for rows in (answers, written, kept))


async def _same_both_ways(url: str, prefix: str, drawn: list[dict[str, object]]) -> None:
    batch = [
        _pending(
            prefix,
            d["stream"],  # type: ignore[arg-type]
            d["stream_type"],  # type: ignore[arg-type]
            d["expected"],  # type: ignore[arg-type]
            d["key"],  # type: ignore[arg-type]
            d["actor"],  # type: ignore[arg-type]
            d["events"],  # type: ignore[arg-type]
        )
        for d in drawn
    ]
    keys = [p.idempotency_key for p in batch if p.idempotency_key]
    at = datetime.now(UTC)
    conn = await asyncpg.connect(url)
    try:
        arguments = batch_arguments(batch, at)
        lean = await _called(conn, arguments, keys)
        full = await _called(conn, full_arguments(batch, at, arguments[11]), keys)
    finally:
        await conn.close()
    assert lean == full
    assert any(lean[1]) or all(row[0] != "ok" for row in lean[0])


def test_the_lean_arguments_answer_and_write_what_the_full_ones_do(store_url: str) -> None:
    prefix = unique_id("shape-")
    asyncio.run(_setup(store_url, prefix))

    @settings(max_examples=60, deadline=None)
    @given(drawn=appends)
    def check(drawn: list[dict[str, object]]) -> None:
        asyncio.run(_same_both_ways(store_url, prefix, drawn))

    check()
