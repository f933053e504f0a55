"""Causation: from one event back to the command or webhook delivery it came from, and forward.

What the write side records (commands/context.py, commands/webhook_intake.py): every event of
one append shares the command's metadata and `recorded_at`; a command sent by the webhook
intake carries the delivery's `WebhookReceived` event id as its `causation_id`; a client may
name its own cause with `X-Causation-Id`. So here:

- *causes*: follow `causation_id` while it names a stored event; the last one reached is the
  root. The origin is that root's delivery when it is a `WebhookReceived`, else the command
  that wrote the root (its actor, correlation id, idempotency key, trace context, and the
  client's own causation id when that names no stored event).
- *written with*: the other events of the same append (same stream, `recorded_at`, metadata).
- *effects*: every event whose `causation_id` is this event's id, and theirs, transitively.
  Events that merely share a correlation id are not counted as caused.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

import asyncpg
import msgspec

from adapters.audit.envelopes import (
    DELIVERY_EVENT,
    AuditEvent,
    DeliveryCache,
    DeliveryRef,
    causation_uuid,
    deliveries_by_event,
)
from adapters.audit.errors import UnknownEvent
from adapters.store import audit_reader

MAX_DEPTH = 100
"""Causes followed at most: guards against a chain made by clients naming causes."""
MAX_EFFECTS = 1000


class Origin(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    kind: Literal["webhook_delivery", "command"]
    stream_id: str
    """The stream the origin wrote: the delivery's, or the command's."""
    recorded_at: datetime
    actor: str | None = None
    correlation_id: str | None = None
    idempotency_key: str | None = None
    traceparent: str | None = None
    external_causation_id: str | None = None
    """A causation id the client sent that names no stored event."""
    delivery: DeliveryRef | None = None


class Trace(msgspec.Struct, frozen=True, kw_only=True):
    event: AuditEvent
    origin: Origin
    causes: list[AuditEvent]
    """From the root cause down to this event's direct cause (empty: it is the root)."""
    written_with: list[AuditEvent]
    """The other events its command appended with it, in order."""
    effects: list[AuditEvent]
    """Everything it caused, directly or not, in position order."""
    effects_truncated: bool
    """More than MAX_EFFECTS effects: only the first are listed."""


async def trace(conn: asyncpg.Connection, event_id: uuid.UUID) -> Trace:
    deliveries = DeliveryCache()
    row = await audit_reader.by_id(conn, event_id)
    if row is None:
        raise UnknownEvent(event_id)
    (event,) = await deliveries.events(conn, [row])

    chain: list[asyncpg.Record] = []
    seen = {event_id}
    current = event
    while len(chain) < MAX_DEPTH:
        cause = causation_uuid(current.metadata)
        if cause is None or cause in seen:
            break
        found = await audit_reader.by_id(conn, cause)
        if found is None:
            break
        seen.add(cause)
        chain.append(found)
        (current,) = await deliveries.events(conn, [found])
    causes = await deliveries.events(conn, chain[::-1])

    siblings = await audit_reader.same_append(conn, row)
    effects, truncated = await _effects(conn, event_id)
    return Trace(
        event=event,
        origin=await _origin(conn, causes[0] if causes else event),
        causes=causes,
        written_with=await deliveries.events(conn, siblings),
        effects=await deliveries.events(conn, effects),
        effects_truncated=truncated,
    )


async def _effects(
    conn: asyncpg.Connection, event_id: uuid.UUID
) -> tuple[list[asyncpg.Record], bool]:
    found: dict[uuid.UUID, asyncpg.Record] = {}
    frontier = [str(event_id)]
    while frontier:
        rows = await audit_reader.caused_by(conn, frontier, MAX_EFFECTS + 1 - len(found))
        fresh = [r for r in rows if r["event_id"] not in found and r["event_id"] != event_id]
        found.update((r["event_id"], r) for r in fresh)
        if len(found) > MAX_EFFECTS:
            ordered = sorted(found.values(), key=lambda r: r["position"])
            return ordered[:MAX_EFFECTS], True
        frontier = [str(r["event_id"]) for r in fresh]
    return sorted(found.values(), key=lambda r: r["position"]), False


async def _origin(conn: asyncpg.Connection, root: AuditEvent) -> Origin:
    if root.type == DELIVERY_EVENT:
        delivery = (await deliveries_by_event(conn, [root.event_id])).get(root.event_id)
        return Origin(
            kind="webhook_delivery",
            stream_id=root.stream_id,
            recorded_at=root.recorded_at,
            actor=root.metadata.actor,
            correlation_id=root.metadata.correlation_id,
            delivery=delivery,
        )
    meta = root.metadata
    return Origin(
        kind="command",
        stream_id=root.stream_id,
        recorded_at=root.recorded_at,
        actor=meta.actor,
        correlation_id=meta.correlation_id,
        idempotency_key=meta.idempotency_key,
        traceparent=meta.traceparent,
        external_causation_id=meta.causation_id,
    )
