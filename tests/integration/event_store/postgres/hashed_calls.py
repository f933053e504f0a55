"""append_batch calls whose appends the client hashed or not (migration 0021), and the stored
chains recomputed from the rows alone, as an auditor would: sha256(previous || canonical)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Collection, Sequence
from datetime import UTC, datetime

import asyncpg

from adapters.audit.verify import verify_stream
from adapters.store.append_batch import PendingAppend
from adapters.store.audit_reader import AUDIT_COLUMNS
from adapters.store.encoding import GENESIS_HASH, NewEvent, canonical_bytes, prepare_events
from domain.envelope import EventMetadata


def pending(
    stream: str,
    expected: int,
    events: int = 1,
    *,
    prev: bytes | None,
    key: str | None = None,
) -> PendingAppend:
    """An append of `events` events, chained on `prev` by the client (None: by the server)."""
    at = datetime.now(UTC)
    prepared = prepare_events(
        stream_id=stream,
        stream_type="run",
        expected_version=expected,
        events=[NewEvent(type="StepStarted", data={"n": n}) for n in range(events)],
        metadata=EventMetadata(idempotency_key=key),
        recorded_at=at,
        max_event_bytes=1 << 20,
        prev_hash=prev,
    )
    return PendingAppend(
        stream_id=stream,
        stream_type="run",
        expected_version=expected,
        idempotency_key=key,
        events=prepared,
        recorded_at=at,
        future=asyncio.get_running_loop().create_future(),
        prev_hash=prev,
    )


async def stored(conn: asyncpg.Connection, streams: Collection[str]) -> dict[str, list]:
    """Each stream's rows as stored (data and metadata as the text kept), in version order."""
    rows = await conn.fetch(
        f"SELECT {AUDIT_COLUMNS} FROM events WHERE stream_id = ANY($1::text[]) "
        "ORDER BY stream_id, version",
        list(streams),
    )
    found: dict[str, list] = {}
    for row in rows:
        found.setdefault(row["stream_id"], []).append(row)
    return found


def recomputed(rows: Sequence[asyncpg.Record]) -> list[bytes]:
    """The chain an auditor rebuilds from one stream's stored rows, genesis first."""
    prev, chain = GENESIS_HASH, []
    for row in rows:
        canonical = canonical_bytes(
            event_id=row["event_id"],
            stream_id=row["stream_id"],
            stream_type=row["stream_type"],
            version=row["version"],
            type=row["type"],
            schema_version=row["schema_version"],
            recorded_at=row["recorded_at"],
            data=row["data"],
            metadata=row["metadata"],
        )
        prev = hashlib.sha256(prev + canonical).digest()
        chain.append(prev)
    return chain


async def assert_chains_hold(conn: asyncpg.Connection, streams: Collection[str]) -> None:
    """Every stored hash recomputes from the rows, and the audit's verification agrees."""
    for stream, rows in (await stored(conn, streams)).items():
        assert [row["version"] for row in rows] == list(range(1, len(rows) + 1))
        assert [bytes(row["hash"]) for row in rows] == recomputed(rows), stream
        report = await verify_stream(conn, stream)
        assert report is not None and report.ok, report
