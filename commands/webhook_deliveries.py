"""A webhook delivery's two records: received (once, however often it is sent) and processed.

`TakeInWebhookDelivery` finds the delivery's source, checks its signature and records it
(`RecordWebhookDelivery`) in one decision: nothing is written for an anonymous caller, and the
bus's read guards cover the source from its lookup to the record's append. The intake turns the
delivery into runs, then sends `RecordDeliveryOutcome`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from uuid import UUID

import msgspec

from commands.boundary import checked
from commands.bus import CommandResult, Dependencies
from commands.context import CommandContext, Principal
from commands.outcome import answer
from commands.ports import ReadMoved, VersionConflict
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


@dataclass(frozen=True, slots=True)
class TakeInWebhookDelivery:
    """A delivery as it arrived, its source named by the URL (`ref`: its id or name).

    Not a Struct, so the bus's boundary does not copy the request (a base64 round trip of the
    body): what arrived may be anything at all, and the gate refuses it (404, 401, 400) before
    anything is built from it; what is recorded crosses the boundary as `RecordWebhookDelivery`.
    """

    kind: str
    ref: str | None
    headers: Mapping[str, str]
    """Looked up by lower-case name."""
    query: Mapping[str, str]
    body: bytes
    delivery_id: str
    """The provider's id of the delivery (`adapters/webhooks/delivery.py`), the context's
    correlation id: derived before the signature is checked, and recorded only after."""


class Redelivery(CommandResult, frozen=True, kw_only=True):
    """A delivery already recorded: nothing written (`duplicate`); `id` is its stream."""


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


async def take_in_webhook_delivery(
    command: TakeInWebhookDelivery, context: CommandContext, deps: Dependencies
) -> CommandResult:
    """Record the delivery if its source proves it sent it; a redelivery answers `Redelivery`.

    The context's principal is replaced by the source's sender once the source is known."""
    if deps.webhook_gate is None:
        raise RuntimeError("this process takes in no webhook deliveries (no gate)")
    admitted = await deps.webhook_gate.admit(
        command.kind,
        command.ref,
        headers=command.headers,
        query=command.query,
        body=command.body,
        at=context.at,
        repository=deps.repository,
    )
    source = admitted.source
    record = RecordWebhookDelivery(
        source_id=source.id,
        project_id=source.project_id,
        source_kind=source.kind,
        delivery_id=command.delivery_id,
        event=admitted.event,
        headers=admitted.headers,
        content_type=admitted.content_type,
        payload=admitted.payload,
    )
    # The context the bus checked, as the source's sender (a Principal has no limits to check).
    sender = msgspec.structs.replace(
        context, principal=delivery_sender(source.name, source.project_id)
    )
    record = checked(record)
    try:
        return await record_webhook_delivery(record, sender, deps)
    except ReadMoved:
        raise  # the source moved: the bus decides again
    except VersionConflict:
        # The delivery's stream is its key (no idempotency key: a row of its own and two
        # statements under the append lock, for every delivery): a redelivery finds it taken.
        stream = delivery_stream_id(source.id, command.delivery_id)
        return Redelivery(id=str(stream), version=1, duplicate=True)


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
    TakeInWebhookDelivery: take_in_webhook_delivery,
    RecordWebhookDelivery: record_webhook_delivery,
    RecordDeliveryOutcome: record_delivery_outcome,
}
