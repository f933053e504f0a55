"""Commit status reports: each request made to a Git host's status API, recorded as it went."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

from commands.bus import CommandResult, Dependencies
from commands.context import CommandContext
from commands.outcome import answer
from domain.commit_status import (
    CHECK_NAME_MAX,
    CHECK_RUN_ID_MAX,
    EXTERNAL_ID_MAX,
    CommitStatusReport,
    report_stream_id,
    step_report_stream_id,
)
from domain.errors import AggregateNotFound
from domain.limits import INT32_MAX, Key, Reason, Repo, Sha, Url


class RecordCommitStatusAttempt(msgspec.Struct, frozen=True, kw_only=True):
    retry_on_conflict: ClassVar[bool] = True
    run_id: UUID
    project_id: UUID
    host: Literal["github", "gitlab"]
    repo: Repo
    sha: Sha
    state: Literal["queued", "running", "success", "failure", "cancelled"]
    attempt: Annotated[int, Meta(ge=1, le=INT32_MAX)]
    http_status: Annotated[int, Meta(ge=100, le=599)] | None
    error: Reason = ""
    target_url: Url
    step: Key | None = None
    """A step's own report (a pipeline with `step_statuses`); None: the run's."""
    check_run_id: Annotated[int, Meta(ge=1, le=CHECK_RUN_ID_MAX)] | None = None
    """The id of the check run this request created (GitHub's 201) or found by its external
    id, recorded before the attempt; None: no check run was learnt by it."""


async def record_commit_status_attempt(
    command: RecordCommitStatusAttempt, context: CommandContext, deps: Dependencies
) -> CommandResult:
    context.principal.require("write", command.project_id)
    report = await _report(command, context, deps)
    if command.check_run_id is not None:
        report.check_run_created(command.check_run_id, at=context.at)
    report.attempted(
        state=command.state,
        attempt=command.attempt,
        http_status=command.http_status,
        error=command.error,
        target_url=command.target_url,
        at=context.at,
    )
    return answer(report, await deps.repository.save(report, metadata=context.metadata()))


class RecordCheckRunRequest(msgspec.Struct, frozen=True, kw_only=True):
    """Before asking GitHub to create a report's check run: what is asked for, where, and the
    external id that finds it again should the answer never be recorded."""

    retry_on_conflict: ClassVar[bool] = True
    run_id: UUID
    project_id: UUID
    repo: Repo
    sha: Sha
    step: Key | None = None
    name: Annotated[str, Meta(min_length=1, max_length=CHECK_NAME_MAX)]
    external_id: Annotated[str, Meta(min_length=1, max_length=EXTERNAL_ID_MAX)]
    state: Literal["queued", "running", "success", "failure", "cancelled"]
    host: Literal["github"] = "github"


async def record_check_run_request(
    command: RecordCheckRunRequest, context: CommandContext, deps: Dependencies
) -> CommandResult:
    context.principal.require("write", command.project_id)
    report = await _report(command, context, deps)
    report.check_run_requested_as(
        name=command.name, external_id=command.external_id, state=command.state, at=context.at
    )
    return answer(report, await deps.repository.save(report, metadata=context.metadata()))


async def _report(
    command: RecordCommitStatusAttempt | RecordCheckRunRequest,
    context: CommandContext,
    deps: Dependencies,
) -> CommitStatusReport:
    """The report's aggregate, opened with this first command."""
    stream = (
        report_stream_id(command.run_id)
        if command.step is None
        else step_report_stream_id(command.run_id, command.step)
    )
    try:
        return await deps.repository.get(CommitStatusReport, stream)
    except AggregateNotFound:
        return CommitStatusReport.open(
            run_id=command.run_id,
            project_id=command.project_id,
            host=command.host,
            repo=command.repo,
            sha=command.sha,
            at=context.at,
            step=command.step,
        )


HANDLERS = {
    RecordCommitStatusAttempt: record_commit_status_attempt,
    RecordCheckRunRequest: record_check_run_request,
}
