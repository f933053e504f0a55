"""Applying a batch so that one bad event stops only its own stream, never the whole view.

When a handler raises on an event (a bug: the boundary should have refused what it cannot
hold), the event is kept in `projection_quarantine` as the stream's *poison*, every later event
of that stream is *parked* behind it in position order (so no row is built out of order), and
every other stream goes on. An operator's decision is an event of the view's quarantine
stream (`domain/projection_quarantine.py`): the projector acts on it where it falls in the
feed (`decide`), live and in a rebuild alike, so a skip or retry replays in order.

A projection that prefers stale to partial says `on_error = "stop"`: the runtime then stops the
whole view at the event instead, as it always did.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Literal, Protocol

import asyncpg

from adapters.store.reader import read_positions
from domain.envelope import EventEnvelope
from domain.projection_quarantine import DECISIONS, SKIPPED
from projections.projection import Projection

OnError = Literal["quarantine", "stop"]
QUARANTINE: OnError = "quarantine"
STOP: OnError = "stop"


def on_error(projection: Projection) -> OnError:
    """The projection's policy: `quarantine` unless it declares `on_error = "stop"`."""
    policy = getattr(projection, "on_error", QUARANTINE)
    if policy not in (QUARANTINE, STOP):
        raise ValueError(f"projection {projection.name}: on_error must be quarantine or stop")
    return policy


def error_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


class Sink(Protocol):
    """Where a guarded apply keeps what it sets aside: the table (live), or memory (rebuild)."""

    async def parked(self, conn: asyncpg.Connection, streams: Collection[str]) -> set[str]:
        """Of `streams`, those with a quarantined event (their later events must wait)."""

    async def park(self, conn: asyncpg.Connection, events: Sequence[EventEnvelope]) -> None:
        """Set aside events behind their stream's poison."""

    async def poison(
        self, conn: asyncpg.Connection, event: EventEnvelope, error: BaseException
    ) -> None:
        """Keep the event a handler failed on, with why."""

    async def held(self, conn: asyncpg.Connection, stream_id: str) -> list[int]:
        """The positions of the stream's quarantined events, in order (the poison first)."""

    async def release(self, conn: asyncpg.Connection, positions: Collection[int]) -> None:
        """Take events out of the quarantine (applied, or skipped for good)."""


def reads(projection: Projection) -> frozenset[str]:
    """What the runtime reads for a projection: its events, and the operators' decisions."""
    return projection.event_types | DECISIONS


def handled_by(projection: Projection, events: Sequence[EventEnvelope]) -> list[EventEnvelope]:
    """`events` without the operators' decisions (unless the projection reads them itself)."""
    return [e for e in events if e.type not in DECISIONS or e.type in projection.event_types]


async def apply_guarded(
    conn: asyncpg.Connection,
    projection: Projection,
    schema: str,
    events: Sequence[EventEnvelope],
    sink: Sink,
    *,
    passthrough: tuple[type[BaseException], ...],
) -> int:
    """Apply `events` inside the caller's transaction, quarantining instead of failing.

    Events of streams already quarantined are parked. The rest go in as one batch; if it
    fails, they are applied again one at a time, each under its own savepoint, to find the
    event at fault. Errors in `passthrough` (a lost connection, a deadlock) are not the
    handler's fault and propagate: the caller retries the whole batch. An operator's decision
    about this view (skip, retry) is acted on where it falls. Returns how many events were
    applied.
    """
    applied, segment = 0, []
    for event in events:
        if event.type not in DECISIONS or event.type in projection.event_types:
            segment.append(event)
            continue
        applied += await _apply_segment(conn, projection, schema, segment, sink, passthrough)
        segment = []
        if event.data.get("projection") == projection.name:
            applied += await decide(conn, projection, schema, event, sink, passthrough)
    return applied + await _apply_segment(conn, projection, schema, segment, sink, passthrough)


async def _apply_segment(
    conn: asyncpg.Connection,
    projection: Projection,
    schema: str,
    events: Sequence[EventEnvelope],
    sink: Sink,
    passthrough: tuple[type[BaseException], ...],
) -> int:
    if not events:
        return 0
    parked = await sink.parked(conn, {event.stream_id for event in events})
    fresh = [event for event in events if event.stream_id not in parked]
    if await try_apply(conn, projection, schema, fresh, passthrough) is None:
        await sink.park(conn, [event for event in events if event.stream_id in parked])
        return len(fresh)
    applied = 0
    for event in events:
        if event.stream_id in parked:
            await sink.park(conn, [event])
        elif (error := await try_apply(conn, projection, schema, [event], passthrough)) is None:
            applied += 1
        else:
            await sink.poison(conn, event, error)
            parked.add(event.stream_id)
    return applied


async def decide(
    conn: asyncpg.Connection,
    projection: Projection,
    schema: str,
    decision: EventEnvelope,
    sink: Sink,
    passthrough: tuple[type[BaseException], ...],
) -> int:
    """Act on an operator's decision about this view: a skip drops the poison event for good,
    then (as a retry does) the stream's quarantined events are applied again in order until
    one fails again, which stays the poison. A decision about an event no longer quarantined
    (resolved since) changes nothing. Returns how many events were applied."""
    held = await sink.held(conn, decision.data["stream_id"])
    if not held or held[0] != decision.data["position"]:
        return 0
    if decision.type == SKIPPED:
        await sink.release(conn, held[:1])
        held = held[1:]
    applied = 0
    for event in await read_positions(conn, held):
        error = await try_apply(conn, projection, schema, [event], passthrough)
        if error is not None:
            await sink.poison(conn, event, error)
            return applied
        await sink.release(conn, [event.position])
        applied += 1
    return applied


async def try_apply(
    conn: asyncpg.Connection,
    projection: Projection,
    schema: str,
    events: Sequence[EventEnvelope],
    passthrough: tuple[type[BaseException], ...],
) -> Exception | None:
    """Apply `events` under a savepoint; the handler's error if it raised, else None."""
    if not events:
        return None
    try:
        async with conn.transaction():  # a savepoint: a failure undoes only this attempt
            await projection.apply(conn, schema, events)
    except passthrough:
        raise
    except Exception as error:
        return error
    return None
