"""A webhook delivery's two records: received (once, however often it is sent) and processed.

The signature is checked before `RecordWebhookDelivery` is sent (nothing is written for an
anonymous caller). The intake turns the delivery into runs, then sends `RecordDeliveryOutcome`.
"""

from __future__ import annotations

from uuid import UUID

import msgspec

from commands.bus import CommandResult, Dependencies
from commands.context import CommandContext, Principal
from commands.outcome import answer
from domain.limits import DeliveryId, EventKind, Reason
from domain.webhook_delivery import WebhookDelivery, delivery_stream_id


class RecordDeliveryOutcome(msgspec.Struct, frozen=True, kw_only=True):
    delivery: UUID
    """The delivery's stream id."""
    outcome: str
    runs: tuple[UUID, ...] = ()
    reason: Reason = ""


class RecordWebhookDelivery(msgspec.Struct, frozen=True, kw_only=True):
    source_id: UUID
    project_id: UUID
    source_kind: str
    delivery_id: DeliveryId
    """The provider's id of the delivery (or one derived from the body): a redelivery repeats it."""
    event: EventKind
    headers: dict[str, str]
    """Unchecked here: an HTTP server passes no NUL in a header, and caps their number."""
    content_type: str
    payload: str
    """The body exactly as received."""


def delivery_sender(source_name: str, project_id: UUID) -> Principal:
    """Who a verified delivery acts as: its source, allowed to write to its project only."""
    return Principal(
        id="webhook",
        name=f"webhook:{source_name}",
        project_id=project_id,
        scopes=frozenset({"write"}),
    )


async def record_webhook_delivery(
    command: RecordWebhookDelivery, context: CommandContext, deps: Dependencies
) -> CommandResult:
    context.principal.require("write", command.project_id)
    # One stream per delivery: a redelivery finds its stream taken (VersionConflict).
    delivery = WebhookDelivery.receive(
        id=delivery_stream_id(command.source_id, command.delivery_id),
        source_id=command.source_id,
        project_id=command.project_id,
        source_kind=command.source_kind,
        delivery_id=command.delivery_id,
        event=command.event,
        headers=command.headers,
        content_type=command.content_type,
        payload=command.payload,
        at=context.at,
    )
    return answer(delivery, await deps.repository.save(delivery, metadata=context.metadata()))


async def record_delivery_outcome(
    command: RecordDeliveryOutcome, context: CommandContext, deps: Dependencies
) -> CommandResult:
    delivery = await deps.repository.get(WebhookDelivery, command.delivery)
    context.principal.require_on("write", delivery, delivery.project_id)
    # The same outcome again decides nothing: a replayed intake batch writes nothing twice.
    delivery.record_outcome(
        outcome=command.outcome, runs=command.runs, reason=command.reason, at=context.at
    )
    return answer(delivery, await deps.repository.save(delivery, metadata=context.metadata()))


HANDLERS = {
    RecordWebhookDelivery: record_webhook_delivery,
    RecordDeliveryOutcome: record_delivery_outcome,
}
