"""GitHub deliveries (X-GitHub-Event): push, pull_request, workflow_run and workflow_job."""

from __future__ import annotations

from collections import deque
from typing import Any

import msgspec

from commands.webhook_payloads.facts import (
    NULL_SHA,
    PULL_REQUEST,
    WORKFLOW_RUN,
    Backflow,
    DeliveryFacts,
    Ignored,
    Job,
    PullRequest,
    Push,
    absolute_url,
    branch_ref,
    decode,
    form_encoded,
    instant,
)
from domain.run_statuses import ExternalStatus, Provider

TRIGGERING_ACTIONS = frozenset({"opened", "synchronize", "reopened"})
_WAITING = frozenset({"requested", "queued", "pending", "waiting"})
_CONCLUSIONS = {
    "success": ExternalStatus.SUCCEEDED,
    "neutral": ExternalStatus.SUCCEEDED,
    "failure": ExternalStatus.FAILED,
    "startup_failure": ExternalStatus.FAILED,
    "action_required": ExternalStatus.FAILED,
    "cancelled": ExternalStatus.CANCELLED,
    "skipped": ExternalStatus.CANCELLED,
    "stale": ExternalStatus.CANCELLED,
    "timed_out": ExternalStatus.TIMED_OUT,
}


class _Account(msgspec.Struct):
    login: str = ""


class _Pusher(msgspec.Struct):
    name: str = ""


class _Repository(msgspec.Struct):
    full_name: str = ""
    html_url: str = ""
    clone_url: str = ""


class _PushEvent(msgspec.Struct):
    ref: str
    after: str = ""
    deleted: bool = False
    repository: _Repository | None = None
    pusher: _Pusher | None = None
    sender: _Account | None = None


class _AddressedPusher(_Pusher):
    email: Any = None


class _AddressedPushEvent(_PushEvent):
    """A push, with where its body may name the pusher's e-mail: read in the same scan."""

    pusher: _AddressedPusher | None = None
    user_email: Any = None


class _Branch(msgspec.Struct):
    ref: str
    sha: str


class _PullRequestBody(msgspec.Struct):
    head: _Branch
    base: _Branch
    number: int | None = None


class _PullRequestEvent(msgspec.Struct):
    action: str
    pull_request: _PullRequestBody
    number: int | None = None
    repository: _Repository | None = None
    sender: _Account | None = None


class _WorkflowRun(msgspec.Struct):
    id: int
    status: str | None = None
    conclusion: str | None = None
    html_url: str | None = None
    name: str | None = None
    head_branch: str | None = None
    head_sha: str | None = None
    run_attempt: int | None = None
    run_started_at: str | None = None
    updated_at: str | None = None


class _Workflow(msgspec.Struct):
    name: str = ""


class _WorkflowRunEvent(msgspec.Struct):
    action: str
    workflow_run: _WorkflowRun
    workflow: _Workflow | None = None


class _WorkflowJob(msgspec.Struct):
    run_id: int
    name: str = ""
    status: str | None = None
    conclusion: str | None = None
    head_branch: str | None = None
    head_sha: str | None = None
    run_attempt: int | None = None
    workflow_name: str | None = None


class _WorkflowJobEvent(msgspec.Struct):
    action: str
    workflow_job: _WorkflowJob
    repository: _Repository | None = None


def parse(event: str, payload: str | bytes, content_type: str | None = None) -> DeliveryFacts:
    """The facts of one GitHub delivery of kind `event`."""
    match event:
        case "push":
            return _push(decode(payload, _PushEvent, content_type=content_type))
        case "pull_request":
            return _pull_request(decode(payload, _PullRequestEvent, content_type=content_type))
        case "workflow_run":
            return _workflow_run(decode(payload, _WorkflowRunEvent, content_type=content_type))
        case "workflow_job":
            return _workflow_job(decode(payload, _WorkflowJobEvent, content_type=content_type))
        case "ping":
            return Ignored(reason="ping: GitHub checking the hook")
        case _:
            return Ignored(reason=f"github event {event!r} starts or updates no run")


def read_as_push(kind: str, event: str, content_type: object) -> bool:
    """Whether a delivery is read by `push_and_email`: a GitHub push sent as JSON (most)."""
    return kind == "github" and event == "push" and not form_encoded(content_type)


def push_and_email(payload: str | bytes) -> tuple[DeliveryFacts, str | None]:
    """`parse("push", payload)` (a JSON body) and the pusher's e-mail address, in one scan:
    `pusher.email`, else `user_email`, whichever is first a string with an `@`.

    The last few reads are kept, by the body itself (`is`: hashing an 8.8 KB body to find it
    cost half a scan): the webhook gate checks that a push is a JSON object by reading it here,
    and the store's sealer, reading the same text for whose it is, scans nothing again. An
    unreadable body raises each time, and a large one is not kept (nor held in memory)."""
    for seen, read in _READ:
        if seen is payload:
            return read
    read = _read_push(payload)
    if len(payload) <= _KEPT_MAX:
        _READ.append((payload, read))
    return read


_READ: deque[tuple[str | bytes, tuple[DeliveryFacts, str | None]]] = deque(maxlen=4)
_KEPT_MAX = 1 << 20


def _read_push(payload: str | bytes) -> tuple[DeliveryFacts, str | None]:
    body = decode(payload, _AddressedPushEvent)
    pusher = body.pusher
    for value in (pusher is not None and pusher.email, body.user_email):
        if isinstance(value, str) and "@" in value:
            return _push(body), value
    return _push(body), None


def _push(body: _PushEvent) -> DeliveryFacts:
    if body.deleted or body.after == NULL_SHA:
        return Ignored(reason=f"deleted ref {body.ref}")
    actor = (body.pusher and body.pusher.name) or (body.sender and body.sender.login) or "github"
    return Push(
        repo=_repo(body.repository),
        ref=body.ref,
        sha=body.after,
        actor=actor,
        clone_url=_clone_url(body.repository),
    )


def _pull_request(body: _PullRequestEvent) -> DeliveryFacts:
    if body.action not in TRIGGERING_ACTIONS:
        return Ignored(reason=f"pull_request {body.action}: only opened, synchronize, reopened")
    pr = body.pull_request
    number = body.number or pr.number
    if number is None:
        return Ignored(reason="pull_request without a number")
    return PullRequest(
        kind=PULL_REQUEST,
        repo=_repo(body.repository),
        ref=branch_ref(pr.head.ref),
        base_ref=branch_ref(pr.base.ref),
        sha=pr.head.sha,
        number=number,
        action=body.action,
        actor=(body.sender and body.sender.login) or "github",
        clone_url=_clone_url(body.repository),
    )


def _workflow_run(body: _WorkflowRunEvent) -> DeliveryFacts:
    run = body.workflow_run
    status, detail = _status(run.status, run.conclusion)
    return Backflow(
        kind=WORKFLOW_RUN,
        provider=Provider.GITHUB_ACTIONS,
        external_id=_external_id(run.id, run.run_attempt),
        url=absolute_url(run.html_url),
        status=status,
        detail=detail,
        name=run.name or (body.workflow and body.workflow.name) or "",
        ref=run.head_branch and branch_ref(run.head_branch),
        sha=run.head_sha,
        started_at=instant(run.run_started_at),
        finished_at=instant(run.updated_at) if run.status == "completed" else None,
    )


def _workflow_job(body: _WorkflowJobEvent) -> DeliveryFacts:
    job = body.workflow_job
    job_status, _ = _status(job.status, job.conclusion)
    # A finished job says only that its run started; the run's own hook says how it ended.
    waiting = job_status is ExternalStatus.QUEUED
    repo_url = absolute_url(body.repository and body.repository.html_url)
    return Backflow(
        kind=WORKFLOW_RUN,
        provider=Provider.GITHUB_ACTIONS,
        external_id=_external_id(job.run_id, job.run_attempt),
        url=repo_url and f"{repo_url}/actions/runs/{job.run_id}",
        status=ExternalStatus.QUEUED if waiting else ExternalStatus.RUNNING,
        name=job.workflow_name or "",
        ref=job.head_branch and branch_ref(job.head_branch),
        sha=job.head_sha,
        job=Job(name=job.name, status=job_status),
    )


def _status(status: str | None, conclusion: str | None) -> tuple[ExternalStatus, str]:
    if status == "completed":
        mapped = _CONCLUSIONS.get(conclusion or "", ExternalStatus.FAILED)
        plain = conclusion in ("success", "failure", "cancelled", "timed_out")
        return mapped, "" if plain else f"conclusion {conclusion}"
    if status in _WAITING or status is None:
        return ExternalStatus.QUEUED, ""
    return ExternalStatus.RUNNING, ""


def _external_id(run_id: int, attempt: int | None) -> str:
    # A re-run keeps the run id: each attempt is a run of its own, or it could not start again.
    return str(run_id) if (attempt or 1) == 1 else f"{run_id}/attempt/{attempt}"


def _clone_url(repository: _Repository | None) -> str | None:
    return (repository and repository.clone_url) or None


def _repo(repository: _Repository | None) -> str:
    return repository.full_name if repository else ""
