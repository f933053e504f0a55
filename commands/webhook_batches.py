"""The intake's command for many deliveries at once: their runs and their outcomes.

One delivery's `TriggerRun` and `RecordDeliveryOutcome` cost a stream read and an append each;
at a thousand pushes a second those round trips were the intake's whole cost, one after the
other. Here each delivery's runs are the `TriggerRun`s it would have sent alone, each in the
context it would have been sent in (its own principal, key, causation and trace; `run_context`
makes it of its delivery's), decided exactly as alone, and its outcome is the one it would
then have recorded; the aggregates come in one read and go to the store in one `save_many`
(one append batch: the runs in the items' order, so a project's runs are requested in the
order its pushes came, then the outcomes that name them). Each run and outcome still succeeds
or is refused on its own. Every run request is keyed (its run's id is made from the key), and
an outcome already recorded is nothing to write: a replayed batch writes nothing twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, ClassVar
from uuid import UUID

import msgspec
from msgspec import Meta

from commands.bus import CommandResult, Dependencies
from commands.context import CommandContext, Forbidden
from commands.ports import VersionConflict
from commands.runs import TriggerRun, requested_run
from commands.webhook_deliveries import RecordDeliveryOutcome
from commands.webhook_intake_requests import run_context, triggered
from commands.webhook_intake_types import Outcome
from domain.envelope import EventMetadata
from domain.errors import AggregateNotFound, DomainError
from domain.limits import cut
from domain.pipeline import Pipeline
from domain.run import Run
from domain.webhook_delivery import REASON_MAX, UNREAD_BODY, WebhookDelivery

ITEMS_MAX = 1000
"""Appends in one command, runs and outcomes: one append batch of the store's group commit."""


class RunRequest(msgspec.Struct, frozen=True, kw_only=True):
    """A `TriggerRun` as `actor` (the pusher): sent in its delivery's context as `run_context`
    makes it, keyed (`CommandContext.new_id` makes the run's id from the key)."""

    command: TriggerRun
    actor: str
    person: bool = False
    """The actor's name is a person's (the events keep it sealed)."""


class RunAsk(msgspec.Struct, frozen=True, kw_only=True):
    """A run one delivery asks of one pipeline: its request, or why it was refused before it
    could be sent (a value past a limit)."""

    pipeline: str
    """How the outcome names the pipeline when the run is refused."""
    request: RunRequest | None = None
    refused: str = ""


class OutcomeRecord(msgspec.Struct, frozen=True, kw_only=True):
    command: RecordDeliveryOutcome
    context: CommandContext


class DeliveryDecided(msgspec.Struct, frozen=True, kw_only=True):
    """One delivery of a batch: its outcome record, as decided, or (with `asks`) with its
    outcome made from what its runs' requests answer, as `triggered` says."""

    record: OutcomeRecord
    asks: tuple[RunAsk, ...] = ()


class RequestRunsAndRecordOutcomes(msgspec.Struct, frozen=True, kw_only=True):
    """Each delivery's runs as `TriggerRun` sent alone in its context would request them, then
    its outcome as `RecordDeliveryOutcome` would record it; all in one `save_many`."""

    retry_on_conflict: ClassVar[bool] = True
    """A delivery loaded as the intake read it (primed) whose stream moved on conflicts; sent
    again, it is read afresh: the same outcome is then nothing to write, another is refused.
    Its runs, requested again, are found by their keys."""

    deliveries: Annotated[tuple[DeliveryDecided, ...], Meta(min_length=1, max_length=ITEMS_MAX)]


class DeliveriesProcessed(CommandResult, frozen=True, kw_only=True, omit_defaults=True):
    outcomes: list[Outcome] = []
    """One per delivery, in the command's order."""


async def request_runs_and_record_outcomes(
    command: RequestRunsAndRecordOutcomes, context: CommandContext, deps: Dependencies
) -> DeliveriesProcessed:
    requests = [ask.request for d in command.deliveries for ask in d.asks if ask.request]
    ids = {request.command.pipeline_id for request in requests}
    pipelines = await deps.repository.get_many(Pipeline, ids) if ids else {}
    # Bodies unread: an outcome is decided on the project, the version and the outcome so
    # far (the append expects that version: a stale state is a conflict, retried).
    deliveries = await deps.repository.get_many_to_append(
        WebhookDelivery, {d.record.command.delivery for d in command.deliveries}, unread=UNREAD_BODY
    )
    runs: list[tuple[Run, CommandContext]] = []
    changed: list[tuple[WebhookDelivery, CommandContext]] = []
    outcomes: list[Outcome] = []
    for decided in command.deliveries:
        record, one = decided.record.command, decided.record.context
        if decided.asks:
            made = await _requested(decided.asks, one, record.delivery, pipelines, deps)
            runs += made.runs
            outcome = made.outcome
            record = msgspec.structs.replace(
                record,
                outcome=outcome.outcome,
                runs=outcome.runs,
                reason=cut(outcome.reason.strip(), REASON_MAX),  # it quotes the payload
            )
        else:
            outcome = Outcome(outcome=record.outcome, runs=record.runs, reason=record.reason)
        delivery = deliveries.get(record.delivery)
        if delivery is None:
            raise AggregateNotFound("webhook_delivery", record.delivery)
        one.principal.require_on("write", delivery, delivery.project_id)
        # The same outcome again decides nothing: a replayed batch writes nothing twice.
        delivery.record_outcome(
            outcome=record.outcome, runs=record.runs, reason=record.reason, at=one.at
        )
        if delivery.pending_events:
            changed.append((delivery, one))
        outcomes.append(outcome)
    # The runs first, then the outcomes that name them, in one append batch.
    saves = [(run, unkeyed(one)) for run, one in runs]
    saved = await deps.repository.save_many(saves + [(d, one.metadata()) for d, one in changed])
    position = None
    for n, result in enumerate(saved):
        if isinstance(result, VersionConflict) and n < len(runs):
            continue  # a run's id is its key's: this request made it before (a replay)
        if isinstance(result, Exception):
            raise result  # an outcome recorded meanwhile (retried), or the store failed
        if not getattr(result, "duplicate", False):
            position = max(position or 0, result.last_position)
    return DeliveriesProcessed(id="", version=0, position=position, outcomes=outcomes)


class _Made(msgspec.Struct, frozen=True):
    outcome: Outcome
    runs: list[tuple[Run, CommandContext]]


async def _requested(
    asks: Sequence[RunAsk],
    delivery_context: CommandContext,
    delivery: UUID,
    pipelines: Mapping[UUID, Pipeline],
    deps: Dependencies,
) -> _Made:
    """The runs a delivery's requests make, unsaved, and its outcome; a refusal is noted in
    the outcome and refuses that run only. Each is requested in the context `run_context`
    makes of its delivery's."""
    runs: list[tuple[Run, CommandContext]] = []
    refused: list[str] = []
    for ask in asks:
        request = ask.request
        if request is None:
            refused.append(f"{ask.pipeline}: {ask.refused}")
            continue
        command = request.command
        context = run_context(delivery_context, delivery, command, request.actor, request.person)
        try:
            pipeline = pipelines.get(command.pipeline_id)
            if pipeline is None:
                raise AggregateNotFound("pipeline", command.pipeline_id)
            run = await requested_run(pipeline, command, context, deps)
        except (DomainError, Forbidden) as error:
            refused.append(f"{ask.pipeline}: {error}")
            continue
        runs.append((run, context))
    return _Made(triggered([run.id for run, _ in runs], refused), runs)


def unkeyed(context: CommandContext) -> EventMetadata:
    """A keyed request's metadata without its key: the run's id is made from the key
    (`CommandContext.new_id`), so its stream, written at version 0, is the key. No row in
    `idempotency_keys` and no key lookup under the append lock, for every run a push starts."""
    return msgspec.structs.replace(context.metadata(), idempotency_key=None)


HANDLERS = {RequestRunsAndRecordOutcomes: request_runs_and_record_outcomes}
