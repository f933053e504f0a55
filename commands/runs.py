"""Run commands: trigger, cancel, retry (what runners report: commands.run_reports)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

from commands.bus import CommandResult, Dependencies
from commands.context import CommandContext
from commands.environments import protect_plan
from commands.outcome import answer
from commands.ports import ReadMoved, VersionConflict
from domain.concurrency_group import group_id_for
from domain.errors import IllegalTransition, InvalidValue, RunKindMismatch
from domain.limits import (
    ITEMS_MAX,
    DeliveryId,
    EventKind,
    Key,
    ParamScalar,
    Positive32,
    Reason,
    Ref,
    Repo,
    ScheduleKey,
    Sha,
    Url,
)
from domain.pipeline import Pipeline
from domain.run import Run
from domain.run_build import carried_steps
from domain.run_conditions import trigger_context
from domain.run_expansion import plan_of, with_step_groups
from domain.run_statuses import TriggerKind
from domain.run_values import ExternalRef, Trigger
from domain.value_checks import ParamValue


class TriggerRun(msgspec.Struct, frozen=True, kw_only=True):
    pipeline_id: UUID
    parameters: Annotated[dict[Key, ParamScalar], Meta(max_length=ITEMS_MAX)] = {}
    pipeline_version: Positive32 | None = None
    """None: the pipeline's current version (0 is no version: refused)."""
    kind: Literal["manual", "api", "webhook", "schedule"] = "api"
    repo: Repo | None = None
    ref: Ref | None = None
    sha: Sha | None = None
    pull_request: Positive32 | None = None
    event: EventKind | None = None
    delivery_id: DeliveryId | None = None
    external: ExternalRef | None = None
    provider: Key | None = None
    clone_url: Url | None = None
    base_ref: Ref | None = None
    schedule: ScheduleKey | None = None
    """With kind `schedule`: the schedule that fired it (see `commands/scheduler.py`)."""
    slot: datetime | None = None
    """With kind `schedule`: the scheduled moment the run is for."""


class CancelRun(msgspec.Struct, frozen=True, kw_only=True):
    retry_on_conflict: ClassVar[bool] = True
    run_id: UUID
    reason: Reason = ""


class RetryRun(msgspec.Struct, frozen=True, kw_only=True):
    run_id: UUID
    failed_only: bool = False
    """Keep the steps that succeeded (and their outputs); run the rest again."""
    parameters: Annotated[dict[Key, ParamScalar], Meta(max_length=ITEMS_MAX)] | None = None
    """Replace the old run's parameters, checked against its pinned version; None keeps them."""


async def trigger_run(
    command: TriggerRun, context: CommandContext, deps: Dependencies
) -> CommandResult:
    # 1. the pipeline decides what may run: its pinned version, its parameters. Only read:
    # concurrent triggers of one pipeline share its cached copy (lent, all but one rebuilt it).
    pipeline = await deps.repository.get_to_read(Pipeline, command.pipeline_id)
    run = await requested_run(pipeline, command, context, deps)
    # 3. append
    try:
        return answer(run, await deps.repository.save(run, metadata=context.metadata()))
    except ReadMoved:
        raise  # the pipeline moved: decided again (the bus), not a replay
    except VersionConflict:
        if context.idempotency_key is None:
            raise
        # The run's id is made from the key: a batch of the same request made it unkeyed
        # (`webhook_batches.trigger_runs_in_order`). What a replay answers.
        return answer(await deps.repository.get(Run, run.id), None)


async def requested_run(
    pipeline: Pipeline, command: TriggerRun, context: CommandContext, deps: Dependencies
) -> Run:
    """The run `command` asks of `pipeline`, decided and unsaved (also for many at once:
    `commands/scheduled_runs.py`)."""
    context.principal.require_on("write", pipeline, pipeline.project_id)
    if not pipeline.active:
        raise IllegalTransition("pipeline", pipeline.status.value, "trigger a run of")
    # `is None`, not `or`: version 0 is a mistake to refuse, not a request for the current one.
    version = (
        pipeline.current_version if command.pipeline_version is None else command.pipeline_version
    )
    definition = pipeline.definition(version)
    parameters: dict[str, ParamValue] = definition.resolve_parameters(command.parameters)
    # 2. the run carries its own plan, so it never needs the pipeline again
    plan = plan_of(definition)
    plan = await protect_plan(plan, definition, pipeline.project_id, command.ref, deps.repository)
    trigger = Trigger(
        kind=TriggerKind(command.kind),
        actor=context.principal.name,
        repo=command.repo,
        ref=command.ref,
        sha=command.sha,
        pull_request=command.pull_request,
        event=command.event,
        delivery_id=command.delivery_id,
        provider=command.provider,
        clone_url=command.clone_url,
        base_ref=command.base_ref,
        schedule=command.schedule,
        slot=command.slot,
    )
    plan = with_step_groups(plan, definition, trigger_context(trigger, parameters))
    run = Run.request(
        id=context.new_id("run"),
        project_id=pipeline.project_id,
        pipeline_id=pipeline.id,
        pipeline_version=version,
        trigger=trigger,
        parameters=parameters,
        steps=() if command.external else plan,
        external=command.external,
        at=context.at,
    )
    if definition.concurrency is not None and command.external is None:
        key = definition.concurrency.group_key(trigger_context(run.trigger, run.parameters))
        group_id = group_id_for(pipeline.project_id, key)
        run.claim_concurrency(group_id, key, definition.concurrency.policy, at=context.at)
    return run


async def cancel_run(
    command: CancelRun, context: CommandContext, deps: Dependencies
) -> CommandResult:
    run = await deps.repository.get(Run, command.run_id)
    context.principal.require_on("write", run, run.project_id)
    run.request_cancel(actor=context.principal.name, reason=command.reason, at=context.at)
    return answer(run, await deps.repository.save(run, metadata=context.metadata()))


async def retry_run(
    command: RetryRun, context: CommandContext, deps: Dependencies
) -> CommandResult:
    old = await deps.repository.get(Run, command.run_id)
    context.principal.require_on("write", old, old.project_id)
    if not old.status.finished:
        raise IllegalTransition("run", old.status.value, "retry")
    if old.external is not None:
        # Its steps live in the outside system: a retry is that system's to run.
        raise RunKindMismatch("external", "retry")
    parameters = dict(old.parameters)
    if command.parameters is not None:
        pipeline = await deps.repository.get(Pipeline, old.pipeline_id)
        definition = pipeline.definition(old.pipeline_version)
        parameters = definition.resolve_parameters(command.parameters)
    # The source revision stays what the retried run built; who asked is the new actor.
    trigger = msgspec.structs.replace(
        old.trigger,
        kind=TriggerKind.RETRY,
        actor=context.principal.name,
        event=None,
        delivery_id=None,
        schedule=None,
        slot=None,
    )
    run = Run.request(
        id=context.new_id("run"),
        project_id=old.project_id,
        pipeline_id=old.pipeline_id,
        pipeline_version=old.pipeline_version,
        trigger=trigger,
        parameters=parameters,
        steps=tuple(old.plan.values()),
        retry_of=old.id,
        external=None,
        at=context.at,
    )
    if (claim := old.concurrency) is not None:  # a retry takes its turn in the same group
        run.claim_concurrency(claim.group_id, claim.key, claim.policy, at=context.at)
    if command.failed_only:
        carried = carried_steps(old.plan, old.steps)
        if len(carried) == len(old.plan):
            raise InvalidValue("failed_only", "every step of that run succeeded: none to re-run")
        run.carry_over(old.id, carried, at=context.at)
    saved = await deps.repository.save(run, metadata=context.metadata())
    if saved is not None and not saved.duplicate:
        await _point_back(old, run.id, command.failed_only, context, deps)
    return answer(run, saved)


async def _point_back(
    old: Run, new_id: UUID, failed_only: bool, context: CommandContext, deps: Dependencies
) -> None:
    """Record on the retried run which run retries it; a concurrent retry's record is kept."""
    for _ in range(5):
        old.note_retried(new_id, actor=context.principal.name, failed_only=failed_only,
                         at=context.at)  # fmt: skip
        try:
            await deps.repository.save(old, metadata=context.metadata())
            return
        except VersionConflict:
            old = await deps.repository.get(Run, old.id)
    raise VersionConflict(f"run {old.id} kept moving while recording its retry")


HANDLERS = {
    TriggerRun: trigger_run,
    CancelRun: cancel_run,
    RetryRun: retry_run,
}
