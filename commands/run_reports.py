"""What runners and outside systems report on a run: its status, its steps' status, its logs."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

from commands.bus import CommandResult, Dependencies
from commands.context import CommandContext
from commands.outcome import answer
from domain.errors import InvalidValue
from domain.limits import (
    CHUNKS_MAX,
    ExitCode,
    Key,
    LogText,
    Metrics,
    Outputs,
    Positive32,
    Reason,
    Sha,
)
from domain.run import Run
from domain.run_statuses import StepStatus
from domain.run_values import LogStream


class CheckoutReport(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What a step's built-in checkout fetched, reported with the attempt's end."""

    sha: Sha
    duration_ms: Annotated[int, Meta(ge=0, le=2**31 - 1)]
    path: Annotated[str, Meta(max_length=255)] = ""


class ReportRunStatus(msgspec.Struct, frozen=True, kw_only=True):
    retry_on_conflict: ClassVar[bool] = True
    replays_found_after: ClassVar[bool] = True
    """A keyed request's first answer is looked up once the command wrote nothing new (a
    refusal, nothing decided, or its append answered as the store key's replay), not before it
    runs: every decision it makes is an append to the run it names, under the request's key, so
    a retry of a request that committed ends one of those ways. (Looked up first, it was a round
    trip on every runner report.) So for the reports below."""
    run_id: UUID
    status: Literal["queued", "running", "succeeded", "failed", "cancelled", "timed_out"]
    reason: Reason = ""


class ReportStepStatus(msgspec.Struct, frozen=True, kw_only=True):
    retry_on_conflict: ClassVar[bool] = True
    replays_found_after: ClassVar[bool] = True
    run_id: UUID
    step: Key
    status: Literal["queued", "running", "succeeded", "failed", "timed_out", "cancelled"]
    attempt: Positive32 = 1
    runner: Key | None = None
    exit_code: ExitCode | None = None
    reason: Reason = ""
    outputs: Outputs = {}
    metrics: Metrics = {}
    checkout: CheckoutReport | None = None


class LogChunk(msgspec.Struct, frozen=True, kw_only=True):
    seq: Positive32
    text: LogText
    step: Key | None = None
    stream: LogStream = "stdout"


class AppendRunLogs(msgspec.Struct, frozen=True, kw_only=True):
    retry_on_conflict: ClassVar[bool] = True
    replays_found_after: ClassVar[bool] = True
    run_id: UUID
    chunks: Annotated[tuple[LogChunk, ...], Meta(max_length=CHUNKS_MAX)]


async def report_run_status(
    command: ReportRunStatus, context: CommandContext, deps: Dependencies
) -> CommandResult:
    run = await deps.repository.get(Run, command.run_id)
    context.principal.require_on("runner", run, run.project_id, "write")
    if run.external is not None:
        run.report_external_status(command.status, detail=command.reason, at=context.at)
    elif command.status == "running":
        run.start(at=context.at)
    elif command.status == "timed_out":
        run.time_out(at=context.at)
    else:
        raise InvalidValue(
            "status",
            "a run flowledger executes ends when its steps do; report step status instead",
        )
    return answer(run, await deps.repository.save(run, metadata=context.metadata()))


async def report_step_status(
    command: ReportStepStatus, context: CommandContext, deps: Dependencies
) -> CommandResult:
    run = await deps.repository.get(Run, command.run_id)
    context.principal.require_on("runner", run, run.project_id, "write")
    step, attempt, at = command.step, command.attempt, context.at
    match command.status:
        case "queued":
            run.queue_step(step, at=at)
        case "running":
            if step in run.steps and run.steps[step].status is StepStatus.PENDING:
                # Nothing dispatched it (no runner fleet in between): queue it on the way.
                run.queue_step(step, at=at)
            run.start_step(step, attempt=attempt, runner=command.runner, at=at)
    if command.checkout is not None and command.status in _ENDS:
        run.record_checkout(
            step,
            attempt=attempt,
            sha=command.checkout.sha,
            duration_ms=command.checkout.duration_ms,
            path=command.checkout.path,
            at=at,
        )
    match command.status:
        case "succeeded":
            run.succeed_step(
                step,
                attempt=attempt,
                exit_code=command.exit_code or 0,
                outputs=command.outputs,
                metrics=command.metrics,
                at=at,
            )
        case "failed":
            run.fail_step(
                step,
                attempt=attempt,
                reason=command.reason or "failed",
                exit_code=command.exit_code,
                outputs=command.outputs,
                metrics=command.metrics,
                at=at,
            )
        case "timed_out":
            run.time_out_step(
                step, attempt=attempt, outputs=command.outputs, metrics=command.metrics, at=at
            )
        case "cancelled":
            run.cancel_step(step, attempt=attempt, reason=command.reason or "cancelled", at=at)
    return answer(run, await deps.repository.save(run, metadata=context.metadata()))


async def append_run_logs(
    command: AppendRunLogs, context: CommandContext, deps: Dependencies
) -> CommandResult:
    run = await deps.repository.get(Run, command.run_id)
    context.principal.require_on("runner", run, run.project_id, "write")
    for chunk in command.chunks:
        run.append_log(
            seq=chunk.seq, step=chunk.step, stream=chunk.stream, text=chunk.text, at=context.at
        )
    return answer(run, await deps.repository.save(run, metadata=context.metadata()))


_ENDS = ("succeeded", "failed", "timed_out", "cancelled")


HANDLERS = {
    ReportRunStatus: report_run_status,
    ReportStepStatus: report_step_status,
    AppendRunLogs: append_run_logs,
}
