"""append_batch's arguments built as the writer builds them, for tests that call the function
directly (what it answers itself, not what the writer makes of it)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from adapters.store.append_batch import APPEND_BATCH, PendingAppend, batch_arguments
from adapters.store.encoding import NewEvent, prepare_events
from domain.envelope import EventMetadata

WRITTEN = (
    "SELECT position, event_id, stream_id, stream_type, version, type, schema_version,"
    " recorded_at, data::text, metadata::text, hash FROM events WHERE position > $1"
    " ORDER BY position"
)
KEPT = (
    "SELECT key, stream_id, from_version, to_version, first_position, last_position, event_ids"
    " FROM idempotency_keys WHERE key = ANY($1::text[]) ORDER BY key"
)


def batch_of(*appends: tuple[str, int, str | None, Sequence[str]]) -> tuple[object, ...]:
    """The arguments for (stream, expected version, idempotency key, event types) appends."""
    pending = []
    for stream, expected, key, types in appends:
        events = prepare_events(
            events=[NewEvent(type=t, data={"stream": stream, "n": n}) for n, t in enumerate(types)],
            metadata=EventMetadata(idempotency_key=key),
            max_event_bytes=1 << 20,
        )
        pending.append(
            PendingAppend(
                stream_id=stream,
                stream_type="run",
                expected_version=expected,
                idempotency_key=key,
                events=events,
                future=asyncio.get_running_loop().create_future(),
            )
        )
    return batch_arguments(pending)


def full_arguments(
    batch: Sequence[PendingAppend], at: datetime, canonical: object
) -> tuple[object, ...]:
    """0020's shape, every array in full (0021 takes it too; 0022 too, with the data joined as
    it takes them); the canonical bytes (no part of the shape) given."""
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
        "\n".join([e.data for _, e in events]),
        [e.metadata for _, e in events],
        canonical,
        [n for n, _ in guards],
        [stream_id for _, (stream_id, _) in guards],
        [version for _, (_, version) in guards],
    )


def drawn_append(
    prefix: str,
    stream: int,
    stream_type: str,
    expected: int,
    key: str | None,
    actor: str | None,
    drawn: list[tuple[str, int]],
    text: str = "",
) -> PendingAppend:
    """One append of `drawn` (type, schema version) events to stream `prefix-stream`; key
    "fresh" is the stream's own, any other is shared by the batch; `text` in each one's data."""
    key = f"{prefix}-{key}-{stream}" if key == "fresh" else f"{prefix}-{key}" if key else None
    return PendingAppend(
        stream_id=f"{prefix}-{stream}",
        stream_type=stream_type,
        expected_version=expected,
        idempotency_key=key,
        events=prepare_events(
            events=[
                NewEvent(
                    type=t, schema_version=v, data={"n": n, "text": text} if text else {"n": n}
                )
                for n, (t, v) in enumerate(drawn)
            ],
            metadata=EventMetadata(actor=actor, idempotency_key=key),
            max_event_bytes=1 << 16,
        ),
        future=asyncio.get_running_loop().create_future(),
    )


def append_drawn(prefix: str, drawn: dict[str, object]) -> PendingAppend:
    """`drawn_append` of a drawn dictionary (its "text" and "guards" optional)."""
    pending = drawn_append(
        prefix,
        drawn["stream"],  # type: ignore[arg-type]
        drawn["stream_type"],  # type: ignore[arg-type]
        drawn["expected"],  # type: ignore[arg-type]
        drawn["key"],  # type: ignore[arg-type]
        drawn["actor"],  # type: ignore[arg-type]
        drawn["events"],  # type: ignore[arg-type]
        drawn.get("text", ""),  # type: ignore[arg-type]
    )
    guards: dict[int, int] = drawn.get("guards", {})  # type: ignore[assignment]
    pending.guards = tuple((f"{prefix}-{s}", v) for s, v in sorted(guards.items()))
    return pending


async def seed_drawn_streams(url: str, prefix: str) -> None:
    """Stream 0 at version 1 with key "used", stream 1 at version 2 (the drawn batches' old
    streams)."""
    conn = await asyncpg.connect(url)
    try:
        for stream, count, key in ((0, 1, "used"), (1, 2, None)):
            batch = [drawn_append(prefix, stream, "run", 0, key, None, [("RunStarted", 1)] * count)]
            [row] = await conn.fetch(APPEND_BATCH, *batch_arguments(batch))
            assert row["status"] == "ok"
    finally:
        await conn.close()


async def called_and_rolled_back(
    conn: asyncpg.Connection,
    call: str,
    arguments: tuple[object, ...],
    keys: list[str],
    before: str | None = None,
) -> tuple[list[tuple[object, ...]], ...]:
    """The answers, the events written and the keys kept, of `call` in a transaction rolled
    back after (`before` run first in it)."""
    transaction = conn.transaction()
    await transaction.start()
    try:
        if before is not None:
            await conn.execute(before)
        head = await conn.fetchval("SELECT coalesce(max(position), 0) FROM events")
        answers = await conn.fetch(call, *arguments)
        written = await conn.fetch(WRITTEN, head)
        kept = await conn.fetch(KEPT, keys)
    finally:
        await transaction.rollback()
    return tuple([tuple(row.values()) for row in rows] for rows in (answers, written, kept))
