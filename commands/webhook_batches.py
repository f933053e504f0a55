"""The intake's commands for many deliveries at once: their runs, then their outcomes.

One delivery's `TriggerRun` and `RecordDeliveryOutcome` cost a stream read and an append each;
at a thousand pushes a second those round trips were the intake's whole cost, one after the
other. Here each item is the command one delivery would have sent alone, with the context it
would have been sent in (its own principal, key, causation and trace), decided exactly as
alone; the aggregates come in one read and go to the store in one `save_many`, in the items'
order (so a project's runs are requested in the order its pushes came). Each item still
succeeds or is refused on its own, and each append keeps its key: a replayed batch writes
nothing twice.
"""

from __future__ import annotations

from typing import Annotated, ClassVar
from uuid import UUID

import msgspec
from msgspec import Meta

from commands.bus import CommandResult, Dependencies
from commands.context import CommandContext, Forbidden
from commands.ports import VersionConflict
from commands.runs import TriggerRun, requested_run
from commands.webhook_deliveries import RecordDeliveryOutcome
from domain.envelope import EventMetadata
from domain.errors import AggregateNotFound, DomainError
from domain.pipeline import Pipeline
from domain.run import Run
from domain.webhook_delivery import UNREAD_BODY, WebhookDelivery

ITEMS_MAX = 1000
"""Items in one command: one append batch of the store's group commit."""


class RunRequest(msgspec.Struct, frozen=True, kw_only=True):
    command: TriggerRun
    context: CommandContext


class TriggerRunsInOrder(msgspec.Struct, frozen=True, kw_only=True):
    """Each request as `TriggerRun` sent alone in its context would do it."""

    requests: Annotated[tuple[RunRequest, ...], Meta(min_length=1, max_length=ITEMS_MAX)]


class RunRequested(msgspec.Struct, frozen=True, kw_only=True):
    run_id: UUID | None = None
    """The run, new or found by the request's key; None when refused."""
    refused: str = ""
    """Why the pipeline or the principal refused it."""


class RunsRequested(CommandResult, frozen=True, kw_only=True, omit_defaults=True):
    requested: list[RunRequested] = []
    """One per request, in the command's order."""


class OutcomeRecord(msgspec.Struct, frozen=True, kw_only=True):
    command: RecordDeliveryOutcome
    context: CommandContext


class RecordDeliveryOutcomes(msgspec.Struct, frozen=True, kw_only=True):
    """Each record as `RecordDeliveryOutcome` sent alone in its context would do it."""

    retry_on_conflict: ClassVar[bool] = True
    """A delivery loaded as the intake read it (primed) whose stream moved on conflicts; sent
    again, it is read afresh: the same outcome is then nothing to write, another is refused."""

    records: Annotated[tuple[OutcomeRecord, ...], Meta(min_length=1, max_length=ITEMS_MAX)]


async def trigger_runs_in_order(
    command: TriggerRunsInOrder, context: CommandContext, deps: Dependencies
) -> RunsRequested:
    ids = {request.command.pipeline_id for request in command.requests}
    pipelines = await deps.repository.get_many(Pipeline, ids)
    requested: list[RunRequested] = []
    built: list[tuple[int, Run, CommandContext]] = []
    for n, request in enumerate(command.requests):
        try:
            pipeline = pipelines.get(request.command.pipeline_id)
            if pipeline is None:
                raise AggregateNotFound("pipeline", request.command.pipeline_id)
            run = await requested_run(pipeline, request.command, request.context, deps)
        except (DomainError, Forbidden) as error:
            requested.append(RunRequested(refused=str(error)))
            continue
        requested.append(RunRequested(run_id=run.id))
        built.append((n, run, request.context))
    saved = await deps.repository.save_many([(run, unkeyed(one)) for _, run, one in built])
    position = None
    for (n, run, one), outcome in zip(built, saved, strict=True):
        if isinstance(outcome, VersionConflict):
            if one.idempotency_key is not None:
                continue  # its id is its key's: this request made it before (a replay)
            requested[n] = RunRequested(refused=f"run {run.id} exists already")
            continue
        if isinstance(outcome, Exception):
            raise outcome  # the store failed: the intake retries the batch (keys dedupe)
        if not getattr(outcome, "duplicate", False):
            position = max(position or 0, outcome.last_position)
    return RunsRequested(id="", version=0, position=position, requested=requested)


async def record_delivery_outcomes(
    command: RecordDeliveryOutcomes, context: CommandContext, deps: Dependencies
) -> CommandResult:
    ids = {record.command.delivery for record in command.records}
    # Bodies unread: an outcome is decided on the project, the version and the outcome so
    # far (the append expects that version: a stale state is a conflict, retried).
    deliveries = await deps.repository.get_many_to_append(WebhookDelivery, ids, unread=UNREAD_BODY)
    changed: list[tuple[WebhookDelivery, CommandContext]] = []
    for record in command.records:
        delivery = deliveries.get(record.command.delivery)
        if delivery is None:
            raise AggregateNotFound("webhook_delivery", record.command.delivery)
        record.context.principal.require_on("write", delivery, delivery.project_id)
        # The same outcome again decides nothing: a replayed batch writes nothing twice.
        delivery.record_outcome(
            outcome=record.command.outcome,
            runs=record.command.runs,
            reason=record.command.reason,
            at=record.context.at,
        )
        if delivery.pending_events:
            changed.append((delivery, record.context))
    saved = await deps.repository.save_many([(d, one.metadata()) for d, one in changed])
    position = None
    for outcome in saved:
        if isinstance(outcome, Exception):
            raise outcome  # another intake recorded one meanwhile, or the store failed: retry
        position = max(position or 0, outcome.last_position)
    return CommandResult(id="", version=0, position=position)


def unkeyed(context: CommandContext) -> EventMetadata:
    """A keyed request's metadata without its key: the run's id is made from the key
    (`CommandContext.new_id`), so its stream, written at version 0, is the key. No row in
    `idempotency_keys` and no key lookup under the append lock, for every run a push starts."""
    return msgspec.structs.replace(context.metadata(), idempotency_key=None)


HANDLERS = {
    TriggerRunsInOrder: trigger_runs_in_order,
    RecordDeliveryOutcomes: record_delivery_outcomes,
}
