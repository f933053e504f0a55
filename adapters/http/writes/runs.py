"""Runs: trigger one, then drive it (status, logs), cancel or retry it."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

import msgspec
from litestar import Controller, Response, post
from litestar.params import FromPath, JSONBody
from msgspec import Meta

from adapters.http.answers import answers
from adapters.http.commanding import execute
from adapters.http.security import Req
from adapters.telemetry.metrics import RUNNER_JOBS
from commands.run_reports import (
    AppendRunLogs,
    CheckoutReport,
    LogChunk,
    ReportRunStatus,
    ReportStepStatus,
)
from commands.runs import CancelRun, RetryRun, TriggerRun
from domain.limits import (
    CHUNKS_MAX,
    ITEMS_MAX,
    ExitCode,
    Key,
    Metrics,
    Outputs,
    ParamScalar,
    Positive32,
    Reason,
    Ref,
    Repo,
    Sha,
    Url,
)
from domain.run_statuses import StepStatus
from domain.run_values import ExternalRef


class RunRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    parameters: Annotated[dict[Key, ParamScalar], Meta(max_length=ITEMS_MAX)] = {}
    pipeline_version: Positive32 | None = None
    """Omit for the current version."""
    kind: Literal["manual", "api"] = "api"
    repo: Repo | None = None
    ref: Ref | None = None
    sha: Sha | None = None
    pull_request: Positive32 | None = None
    external: ExternalRef | None = None
    """Set to mirror a run that executes in GitHub Actions, GitLab or Jenkins."""
    clone_url: Url | None = None
    """The git URL of `repo` that a step's `checkout` fetches `sha` from."""
    base_ref: Ref | None = None


class RetryRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    failed_only: bool = False
    """Run again only the steps that did not succeed (and those after them); the succeeded
    steps and their outputs are carried over, each recorded as `StepCarriedOver`."""
    parameters: Annotated[dict[Key, ParamScalar], Meta(max_length=ITEMS_MAX)] | None = None
    """New parameters, checked against the run's pinned pipeline version; omit to keep them."""


class Cancellation(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    reason: Reason = ""


class StatusReport(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A run's status (no `step`), or one step's (with `step`), from a runner or outside system."""

    status: Literal["queued", "running", "succeeded", "failed", "cancelled", "timed_out"]
    step: Key | None = None
    attempt: Positive32 = 1
    runner: Key | None = None
    exit_code: ExitCode | None = None
    reason: Reason = ""
    outputs: Outputs = {}
    metrics: Metrics = {}
    checkout: CheckoutReport | None = None
    """What the step's built-in checkout fetched (a runner's report of a finished attempt)."""


class LogAppend(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    chunks: Annotated[tuple[LogChunk, ...], Meta(max_length=CHUNKS_MAX)]


class RunsController(Controller):
    path = "/api/v1"
    tags = ["runs"]

    @post(
        "/pipelines/{pipeline_id:uuid}/runs",
        operation_id="triggerRun",
        status_code=201,
        responses=answers(201),
    )
    async def trigger(
        self, request: Req, pipeline_id: FromPath[UUID], data: JSONBody[RunRequest]
    ) -> Response[bytes]:
        command = TriggerRun(pipeline_id=pipeline_id, **msgspec.structs.asdict(data))
        return await execute(request, command, status=201)

    @post("/pipeline-runs/{run_id:uuid}/cancel", operation_id="cancelRun", responses=answers(202))
    async def cancel(
        self, request: Req, run_id: FromPath[UUID], data: JSONBody[Cancellation | None] = None
    ) -> Response[bytes]:
        reason = data.reason if data else ""
        return await execute(request, CancelRun(run_id=run_id, reason=reason))

    @post(
        "/pipeline-runs/{run_id:uuid}/retry",
        operation_id="retryRun",
        status_code=201,
        responses=answers(201),
    )
    async def retry(
        self, request: Req, run_id: FromPath[UUID], data: JSONBody[RetryRequest | None] = None
    ) -> Response[bytes]:
        """A new run of the same pinned version and revision; the two point at each other
        (`retry_of` on the new one, `RunRetried` on the old one)."""
        body = data or RetryRequest()
        command = RetryRun(run_id=run_id, failed_only=body.failed_only, parameters=body.parameters)
        return await execute(request, command, status=201)

    @post(
        "/pipeline-runs/{run_id:uuid}/status",
        operation_id="reportRunStatus",
        responses=answers(202),
    )
    async def status(
        self, request: Req, run_id: FromPath[UUID], data: JSONBody[StatusReport]
    ) -> Response[bytes]:
        if data.step is None:
            command: object = ReportRunStatus(run_id=run_id, status=data.status, reason=data.reason)
        else:
            command = ReportStepStatus(
                run_id=run_id,
                step=data.step,
                status=data.status,
                attempt=data.attempt,
                runner=data.runner,
                exit_code=data.exit_code,
                reason=data.reason,
                outputs=data.outputs,
                metrics=data.metrics,
                checkout=data.checkout,
            )
        answer = await execute(request, command)
        if data.step is not None and StepStatus(data.status).finished:
            RUNNER_JOBS.labels(data.status).inc()
        return answer

    @post("/pipeline-runs/{run_id:uuid}/logs", operation_id="appendRunLogs", responses=answers(202))
    async def logs(
        self, request: Req, run_id: FromPath[UUID], data: JSONBody[LogAppend]
    ) -> Response[bytes]:
        return await execute(request, AppendRunLogs(run_id=run_id, chunks=data.chunks))
