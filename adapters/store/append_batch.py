"""One `append_batch` call: the appends it carries, its arguments, and what each row answers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TypeVar

import asyncpg
import msgspec

from adapters.store.encoding import PreparedEvent
from adapters.store.errors import (
    EventStoreError,
    GuardMoved,
    IdempotencyKeyReused,
    InvalidAppend,
    WrongExpectedVersion,
)

T = TypeVar("T")


class AppendResult(msgspec.Struct, frozen=True, kw_only=True):
    stream_id: str
    from_version: int
    to_version: int
    first_position: int
    last_position: int
    event_ids: tuple[uuid.UUID, ...]
    duplicate: bool = False
    """True when the idempotency key had been used: nothing appended, the first result."""


class PendingAppend(msgspec.Struct, kw_only=True):
    stream_id: str
    stream_type: str
    expected_version: int
    idempotency_key: str | None
    events: list[PreparedEvent]
    future: asyncio.Future[AppendResult]
    attempts: int = 0
    guards: tuple[tuple[str, int], ...] = ()
    """(stream, version) the decision read: none may have moved when the append commits."""


APPEND_BATCH = (
    "SELECT * FROM append_batch($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
)


def batch_arguments(
    batch: Sequence[PendingAppend], recorded_at: datetime | None = None
) -> tuple[object, ...]:
    """The call's arguments, its events recorded at `recorded_at` (default: now). The shape
    spares asyncpg's per-element checks what it can (migration 0021): one `recorded_at` for the
    batch, no keys' or guards' arrays when none has one, no events' appends when each append
    has one event, a value the same for all sent once; the events' data and canonical bytes
    each as one value joined by newlines (0022: compact JSON holds none)."""
    at = datetime.now(UTC) if recorded_at is None else recorded_at
    events = [
        (n, p, e, version)
        for n, p in enumerate(batch, start=1)
        for version, e in enumerate(p.events, start=p.expected_version + 1)
    ]
    guards = [(n, g) for n, p in enumerate(batch, start=1) for g in p.guards]
    keys = [p.idempotency_key for p in batch]
    return (
        [p.stream_id for p in batch],
        _one_or_each([p.stream_type for p in batch]),
        _one_or_each([p.expected_version for p in batch]),
        keys if keys.count(None) < len(keys) else None,
        [n for n, _, _, _ in events] if any(len(p.events) != 1 for p in batch) else None,
        [e.event_id for _, _, e, _ in events],
        _one_or_each([e.type for _, _, e, _ in events]),
        _one_or_each([e.schema_version for _, _, e, _ in events]),
        at,
        "\n".join([e.data for _, _, e, _ in events]),
        _one_or_each([e.metadata for _, _, e, _ in events]),
        b"\n".join(
            [
                e.canonical(
                    stream_id=p.stream_id,
                    stream_type=p.stream_type,
                    version=version,
                    recorded_at=at,
                )
                for _, p, e, version in events
            ]
        ),
        *(
            (
                [n for n, _ in guards],
                [stream_id for _, (stream_id, _) in guards],
                [version for _, (_, version) in guards],
            )
            if guards
            else (None, None, None)  # NULL: no guards (0020 took that as well)
        ),
    )


def _one_or_each(values: list[T]) -> list[T]:
    """`values`, or its first alone when all are equal (0021: one element stands for all)."""
    return values[:1] if values and values.count(values[0]) == len(values) else values


def settle(pending: PendingAppend, row: asyncpg.Record) -> None:
    status = row["status"]
    if status in ("ok", "duplicate"):
        event_ids = (
            row["event_ids"] if status == "duplicate" else [e.event_id for e in pending.events]
        )
        pending.future.set_result(
            AppendResult(
                stream_id=pending.stream_id,
                from_version=row["from_version"],
                to_version=row["to_version"],
                first_position=row["first_position"],
                last_position=row["last_position"],
                event_ids=tuple(event_ids),
                duplicate=status == "duplicate",
            )
        )
    elif status == "conflict":
        pending.future.set_exception(
            WrongExpectedVersion(pending.stream_id, pending.expected_version, row["actual_version"])
        )
    elif status == "guard_moved":
        stream_id = row["detail"]
        pending.future.set_exception(
            GuardMoved(stream_id, dict(pending.guards)[stream_id], row["actual_version"])
        )
    elif status == "key_reused":
        pending.future.set_exception(
            IdempotencyKeyReused(pending.idempotency_key or "", row["detail"], pending.stream_id)
        )
    elif status == "type_mismatch":
        pending.future.set_exception(
            InvalidAppend(
                f"stream {pending.stream_id!r} is a {row['detail']!r} stream, "
                f"not {pending.stream_type!r}"
            )
        )
    else:
        pending.future.set_exception(EventStoreError(f"unexpected append status {status!r}"))


FIND_EVENTS = (
    "SELECT position, version FROM events WHERE event_id = ANY($1::uuid[]) ORDER BY position"
)


def settle_found(pending: PendingAppend, rows: Sequence[asyncpg.Record]) -> bool:
    """After a lost connection: settled as committed if its events are found (`rows`)."""
    if not rows:
        return False
    pending.future.set_result(
        AppendResult(
            stream_id=pending.stream_id,
            from_version=rows[0]["version"],
            to_version=rows[-1]["version"],
            first_position=rows[0]["position"],
            last_position=rows[-1]["position"],
            event_ids=tuple(e.event_id for e in pending.events),
        )
    )
    return True
