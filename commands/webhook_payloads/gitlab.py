"""GitLab deliveries (X-Gitlab-Event): pushes, tag pushes, merge requests, pipelines, jobs."""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec

from commands.webhook_payloads.facts import (
    MERGE_REQUEST,
    NULL_SHA,
    PIPELINE,
    Backflow,
    DeliveryFacts,
    Ignored,
    Job,
    PullRequest,
    Push,
    absolute_url,
    branch_ref,
    decode,
    instant,
)
from domain.run_statuses import ExternalStatus, Provider

_S = ExternalStatus
_WAITING = ("created", "waiting_for_resource", "preparing", "pending", "scheduled", "manual")
_STATUSES = {
    **dict.fromkeys(_WAITING, _S.QUEUED),
    # Still running until GitLab says it has stopped.
    **dict.fromkeys(("running", "canceling"), _S.RUNNING),
    "success": _S.SUCCEEDED,
    "failed": _S.FAILED,
    "canceled": _S.CANCELLED,
    "skipped": _S.CANCELLED,
}
_KINDS = {
    "Push Hook": "push",
    "Tag Push Hook": "tag_push",
    "Merge Request Hook": "merge_request",
    "Pipeline Hook": "pipeline",
    "Job Hook": "build",
}
TRIGGERING_ACTIONS = frozenset({"open", "update", "reopen"})


class _Kind(msgspec.Struct):
    object_kind: str = ""


class _Project(msgspec.Struct):
    path_with_namespace: str = ""
    web_url: str = ""
    git_http_url: str = ""


class _User(msgspec.Struct):
    username: str = ""
    name: str = ""


class _PushEvent(msgspec.Struct):
    ref: str
    after: str
    checkout_sha: str | None = None
    user_username: str | None = None
    user_name: str | None = None
    project: _Project | None = None


class _Commit(msgspec.Struct):
    id: str


class _MergeRequest(msgspec.Struct):
    iid: int
    source_branch: str
    target_branch: str
    action: str = ""
    oldrev: str | None = None
    last_commit: _Commit | None = None


class _MergeRequestEvent(msgspec.Struct):
    object_attributes: _MergeRequest
    user: _User | None = None
    project: _Project | None = None


class _Pipeline(msgspec.Struct):
    id: int
    status: str
    iid: int | None = None
    name: str | None = None
    ref: str | None = None
    tag: bool = False
    sha: str | None = None
    url: str | None = None
    finished_at: str | None = None
    duration: float | None = None


class _PipelineEvent(msgspec.Struct):
    object_attributes: _Pipeline
    project: _Project | None = None


class _PipelineOfJob(msgspec.Struct):
    status: str | None = None
    name: str | None = None


class _Repository(msgspec.Struct):
    homepage: str = ""


class _JobEvent(msgspec.Struct):
    pipeline_id: int
    build_name: str
    build_status: str
    ref: str | None = None
    tag: bool = False
    sha: str | None = None
    commit: _PipelineOfJob | None = None
    repository: _Repository | None = None


def parse(event: str, payload: str | bytes, content_type: str | None = None) -> DeliveryFacts:
    """The facts of one GitLab delivery; system hooks name the kind only in `object_kind`."""
    kind = _KINDS.get(event) or decode(payload, _Kind, content_type=content_type).object_kind
    match kind:
        case "push" | "tag_push":
            return _push(decode(payload, _PushEvent, content_type=content_type))
        case "merge_request":
            return _merge_request(decode(payload, _MergeRequestEvent, content_type=content_type))
        case "pipeline":
            return _pipeline(decode(payload, _PipelineEvent, content_type=content_type))
        case "build":
            return _job(decode(payload, _JobEvent, content_type=content_type))
        case _:
            return Ignored(reason=f"gitlab event {event!r} starts or updates no run")


def _push(body: _PushEvent) -> DeliveryFacts:
    if body.after == NULL_SHA:
        return Ignored(reason=f"deleted ref {body.ref}")
    return Push(
        repo=_repo(body.project),
        ref=body.ref,
        sha=body.checkout_sha or body.after,
        actor=body.user_username or body.user_name or "gitlab",
        clone_url=(body.project and body.project.git_http_url) or None,
    )


def _merge_request(body: _MergeRequestEvent) -> DeliveryFacts:
    mr = body.object_attributes
    if mr.action not in TRIGGERING_ACTIONS:
        return Ignored(
            reason=f"merge_request {mr.action or 'without action'}: only open, update, reopen"
        )
    # GitLab sends `oldrev` only when an update brought new commits; a title edit builds nothing.
    if mr.action == "update" and not mr.oldrev:
        return Ignored(reason="merge_request update without new commits")
    if mr.last_commit is None:
        return Ignored(reason="merge_request without a last commit")
    return PullRequest(
        kind=MERGE_REQUEST,
        repo=_repo(body.project),
        ref=branch_ref(mr.source_branch),
        base_ref=branch_ref(mr.target_branch),
        sha=mr.last_commit.id,
        number=mr.iid,
        action=mr.action,
        actor=(body.user and (body.user.username or body.user.name)) or "gitlab",
        clone_url=(body.project and body.project.git_http_url) or None,
    )


def _pipeline(body: _PipelineEvent) -> DeliveryFacts:
    pipeline = body.object_attributes
    status = _status(pipeline.status)
    if status is None:
        return Ignored(reason=f"gitlab pipeline status {pipeline.status!r} is unknown")
    web_url = absolute_url(body.project and body.project.web_url)
    finished = instant(pipeline.finished_at)
    return Backflow(
        kind=PIPELINE,
        provider=Provider.GITLAB,
        external_id=str(pipeline.id),
        url=absolute_url(pipeline.url) or (web_url and f"{web_url}/-/pipelines/{pipeline.id}"),
        status=status,
        detail=pipeline.status if pipeline.status in ("skipped", "canceling") else "",
        name=pipeline.name or (f"pipeline #{pipeline.iid}" if pipeline.iid else ""),
        ref=pipeline.ref and branch_ref(pipeline.ref, tag=pipeline.tag),
        sha=pipeline.sha,
        started_at=_started(finished, pipeline.duration),
        finished_at=finished,
    )


def _job(body: _JobEvent) -> DeliveryFacts:
    job_status = _status(body.build_status)
    if job_status is None:
        return Ignored(reason=f"gitlab job status {body.build_status!r} is unknown")
    # `commit.status` is the pipeline's own status; without it a job says only so much.
    status = _status(body.commit and body.commit.status) or (
        _S.QUEUED if job_status is _S.QUEUED else _S.RUNNING
    )
    home = absolute_url(body.repository and body.repository.homepage)
    return Backflow(
        kind=PIPELINE,
        provider=Provider.GITLAB,
        external_id=str(body.pipeline_id),
        url=home and f"{home}/-/pipelines/{body.pipeline_id}",
        status=status,
        name=(body.commit and body.commit.name) or "",
        ref=body.ref and branch_ref(body.ref, tag=body.tag),
        sha=body.sha,
        job=Job(name=body.build_name, status=job_status),
    )


def _started(finished: datetime | None, duration_s: float | None) -> datetime | None:
    try:
        return finished - timedelta(seconds=duration_s) if finished and duration_s else None
    except (OverflowError, ValueError):
        # A duration longer than the calendar (or not a number at all) says nothing.
        return None


def _status(value: str | None) -> ExternalStatus | None:
    return _STATUSES.get(value or "")


def _repo(project: _Project | None) -> str:
    return project.path_with_namespace if project else ""
