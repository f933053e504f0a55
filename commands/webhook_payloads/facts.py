"""What a delivery means, normalized across providers: the DeliveryFacts tagged union."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import parse_qs

import msgspec

from domain.run_statuses import ExternalStatus, Provider

T = TypeVar("T")

PUSH, TAG_PUSH = "push", "tag_push"
PULL_REQUEST, MERGE_REQUEST = "pull_request", "merge_request"
WORKFLOW_RUN, PIPELINE, BUILD = "workflow_run", "pipeline", "build"
NULL_SHA = "0" * 40


class UnreadablePayload(ValueError):
    """The body of a delivery is not the document its event kind promises."""

    code = "unreadable_payload"


class _Fact(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    pass


class Push(_Fact):
    """Commits pushed to a branch or a tag."""

    repo: str
    ref: str
    """`refs/heads/<branch>` or `refs/tags/<tag>`."""
    sha: str
    actor: str
    deleted: bool = False
    clone_url: str | None = None
    """The repository's git URL, as the provider gives it (GitHub `clone_url`, GitLab
    `git_http_url`)."""

    @property
    def kind(self) -> str:
        return TAG_PUSH if self.ref.startswith("refs/tags/") else PUSH


class PullRequest(_Fact):
    """A pull (merge) request opened, reopened or given new commits."""

    kind: str
    """`pull_request` (GitHub) or `merge_request` (GitLab)."""
    repo: str
    ref: str
    """The head branch, as `refs/heads/<branch>`: what the run builds."""
    base_ref: str
    """The branch it targets, as `refs/heads/<branch>`: what trigger globs match."""
    sha: str
    number: int
    action: str
    actor: str
    clone_url: str | None = None


class Job(msgspec.Struct, frozen=True, kw_only=True):
    """One job of an external run, for job-level hooks."""

    name: str
    status: ExternalStatus


class Backflow(_Fact):
    """An external CI run's state, as its provider reports it."""

    kind: str
    """`workflow_run` (GitHub), `pipeline` (GitLab) or `build` (Jenkins)."""
    provider: Provider
    external_id: str
    url: str | None
    """None when the provider sent no absolute URL."""
    status: ExternalStatus
    """The run's status; for a job-level hook, the least the job tells about its run."""
    detail: str = ""
    """The provider's own word for how it ended, when it says more than `status`."""
    name: str = ""
    ref: str | None = None
    sha: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    job: Job | None = None


class Custom(_Fact):
    """A generic source's delivery: its `type` is the event kind."""

    kind: str
    repo: str | None = None
    ref: str | None = None
    sha: str | None = None
    actor: str | None = None
    clone_url: str | None = None


class Ignored(_Fact):
    """Nothing to do, and why."""

    reason: str


DeliveryFacts = Push | PullRequest | Backflow | Custom | Ignored


def form_encoded(content_type: object) -> bool:
    """A body sent form-encoded (its JSON document in the `payload` field), not as JSON."""
    return isinstance(content_type, str) and content_type.lower().startswith(
        "application/x-www-form-urlencoded"
    )


def decode(payload: str | bytes, shape: type[T], *, content_type: str | None = None) -> T:
    """The body as `shape` (extra fields ignored), or UnreadablePayload saying what is wrong."""
    if form_encoded(content_type):
        # GitHub's form content type sends the JSON document as the `payload` field.
        text = payload.decode() if isinstance(payload, bytes) else payload
        payload = parse_qs(text).get("payload", [""])[0]
    try:
        return msgspec.json.decode(payload, type=shape)
    except msgspec.DecodeError as error:
        raise UnreadablePayload(f"{shape.__name__.lstrip('_')}: {error}") from None


def branch_ref(name: str, *, tag: bool = False) -> str:
    """`refs/heads/<name>` (or `refs/tags/<name>`), leaving a full ref as it is."""
    if name.startswith("refs/"):
        return name
    return f"refs/{'tags' if tag else 'heads'}/{name}"


def instant(value: Any) -> datetime | None:
    """A provider's timestamp (ISO 8601, `2016-08-12 15:23:28 UTC`), or None if unreadable."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(" UTC"):
        text = text.removesuffix(" UTC") + "+00:00"
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def absolute_url(value: str | None) -> str | None:
    return value if value and value.startswith(("https://", "http://")) else None
