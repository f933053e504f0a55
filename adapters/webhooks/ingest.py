"""Takes in one delivery: find its source, verify it, record it once, say what became of it.

Nothing is written before the signature is verified: an anonymous flood must not grow the
event store. The finding, the check and the record are one command, `TakeInWebhookDelivery`,
sent through the command bus (its gate is `gate.py`); turning the delivery into runs happens
later, in a process manager.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Literal
from uuid import UUID, uuid4

import msgspec

from adapters.http.problems import problem
from adapters.platform.services import Services
from adapters.store.errors import GuardMoved
from adapters.telemetry.tracing import current_traceparent, valid_traceparent
from adapters.webhooks.delivery import delivery_id
from adapters.webhooks.gate import DeliveryRefused
from commands.context import CommandContext, Principal
from commands.webhook_deliveries import TakeInWebhookDelivery
from domain.webhook_delivery import WebhookDelivery
from domain.webhook_source import KINDS

ARRIVING = Principal(id="webhook", name="webhook", project_id=None, scopes=frozenset())
"""Who a delivery is before its source vouches for it: allowed nothing."""


class Processed(msgspec.Struct, frozen=True, kw_only=True):
    """What the process manager made of the delivery."""

    outcome: str
    runs: tuple[UUID, ...]
    reason: str


class Receipt(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The answer to a delivery: 202 the first time, 200 with `duplicate` for a redelivery."""

    delivery: UUID
    """The delivery's stream id."""
    position: int
    """The global position of its `WebhookReceived` event."""
    outcome: Literal["accepted"]
    duplicate: bool = False
    processed: Processed | None = None
    """Once the delivery has been processed (redeliveries only: the first answer is at once)."""


async def ingest(
    services: Services,
    *,
    kind: str,
    source: str | None,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    body: bytes,
    now: datetime,
) -> Receipt:
    """Record a delivery, or find the first record of it; raises problem details otherwise.

    `headers` are looked up by lower-case name. The body's size is the caller's to check.

    The source is taken from the process's cache without reading its stream's tail: the record's
    append carries it as a read guard (adapters/store/read_guards.py), so a rotation or a
    disabling committed meanwhile fails the append and the bus decides again on the fresh
    source. An answer that writes nothing (a refusal, a redelivery) stands only once the bus
    found the source it was decided on still current.
    """
    received = delivery_id(kind, headers, body) if kind in KINDS else str(uuid4())
    command = TakeInWebhookDelivery(
        kind=kind, ref=source, headers=headers, query=query, body=body, delivery_id=received
    )
    context = CommandContext(
        principal=ARRIVING,
        at=now,
        correlation_id=received,
        # The request's span: the run the intake starts from this delivery joins its trace.
        traceparent=current_traceparent() or valid_traceparent(headers.get("traceparent")),
    )
    try:
        result = await services.bus.dispatch(command, context)
    except DeliveryRefused as refused:
        raise refused.answer from None
    except GuardMoved:
        # Moved before each of the bus's attempts: nothing was written.
        raise problem(
            503, "source_changing", "the source is being changed: send it again"
        ) from None
    if result.duplicate:
        return await _first_receipt(services, UUID(result.id))
    assert result.position is not None  # a new delivery always records its Received event
    # The stream the command made (`delivery_stream_id`): its UUID is not derived twice.
    return Receipt(delivery=UUID(result.id), position=result.position, outcome="accepted")


async def _first_receipt(services: Services, stream_id: UUID) -> Receipt:
    position = (await services.store.read_stream(str(stream_id), to_version=1))[0].position
    later = await services.store.read_stream(str(stream_id), from_version=2)
    processed = next(
        (
            msgspec.convert(e.data, Processed, strict=False)
            for e in later
            if e.type == WebhookDelivery.Processed.event_type
        ),
        None,
    )
    return Receipt(
        delivery=stream_id,
        position=position,
        outcome="accepted",
        duplicate=True,
        processed=processed,
    )
