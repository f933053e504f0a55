"""Value objects of a run (trigger, external ref, step plan and state) and their checks."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal, get_args
from uuid import UUID

import msgspec

from domain.errors import InvalidValue
from domain.limits import (
    ACTOR_MAX,
    DELIVERY_ID_MAX,
    EVENT_KIND_MAX,
    INT32_MAX,
    KEY_MAX,
    REF_MAX,
    REPO_MAX,
    SHA_MAX,
    URL_MAX,
    Key,
    Url,
)
from domain.parameter_spec import ParameterSpec
from domain.run_statuses import Provider, StepStatus, TriggerKind
from domain.trigger_schedule import check_scheduled
from domain.value_checks import valid_member, valid_text

LogStream = Literal["stdout", "stderr", "system"]
LOG_STREAMS = frozenset(get_args(LogStream))


class Trigger(msgspec.Struct, frozen=True, kw_only=True):
    """Who or what asked for a run, and the source revision it is about."""

    kind: TriggerKind
    actor: str
    repo: str | None = None
    ref: str | None = None
    sha: str | None = None
    pull_request: int | None = None
    event: str | None = None
    """The webhook's event kind (`push`, `pull_request`, ...); webhook triggers only."""
    delivery_id: str | None = None
    provider: str | None = None
    """Where the trigger came from: the webhook source's kind (`github`, `gitlab`, ...)."""
    clone_url: str | None = None
    """The URL `git clone` takes for `repo` (never with a password in it)."""
    base_ref: str | None = None
    """For a pull request: the ref it targets."""
    schedule: str | None = None
    """The schedule that fired the run (its name, or its cron and zone); schedule triggers only."""
    slot: datetime | None = None
    """The scheduled moment the run is for (UTC); with `schedule`."""


class ExternalRef(msgspec.Struct, frozen=True, kw_only=True):
    """The run this one mirrors in another CI system."""

    provider: Provider
    external_id: Key
    url: Url


class Gate(msgspec.Struct, frozen=True, kw_only=True):
    """What holds a step until people decide: an approval step, or a protected environment."""

    prompt: str
    approvers: tuple[str, ...]
    """Who may decide; empty: any holder of the approve scope on the project."""
    required: int
    """How many distinct approvals open the gate; one rejection closes it."""
    timeout_s: int
    on_timeout: str
    inputs: tuple[ParameterSpec, ...] = ()
    """The approval step's typed input fields, as the definition has them."""


class StepPlan(msgspec.Struct, frozen=True, kw_only=True):
    """One step as the run will execute it; `needs` is already resolved by the pipeline."""

    name: str
    needs: tuple[str, ...]
    retries: int
    timeout_s: int
    allow_failure: bool
    kind: str = "run"
    gate: Gate | None = None
    environment: str | None = None
    refused: str | None = None
    """Why the step may not run at all (its branch is not allowed in its environment)."""
    queue_timeout_s: int | None = None
    """Fail the step `no_runner` if no runner starts it this long after it is dispatched."""
    condition: str = ""
    """The step's `if:` as written ("": none, which means `success()`)."""
    instance_of: str = ""
    """The definition step this matrix instance expands ("": it is that step itself)."""
    matrix: dict[str, str | int | float | bool] = {}
    """This instance's matrix values."""
    fail_fast: bool = False
    """A failing instance cancels its unfinished siblings (matrix instances only)."""
    max_parallel: int = 0
    """At most this many of its siblings queued or running at once (0: no limit)."""
    group_key: str = ""
    """The concurrency group the step queues in, rendered ("": none)."""

    @property
    def source(self) -> str:
        """The definition step it runs: itself, or the matrix step it is an instance of."""
        return self.instance_of or self.name

    @property
    def max_attempts(self) -> int:
        return self.retries + 1


class StepState(msgspec.Struct, frozen=True, kw_only=True):
    """Where one step of a run stands; attempt-specific fields describe its latest attempt."""

    name: str
    status: StepStatus = StepStatus.PENDING
    attempt: int = 0
    runner: str | None = None
    exit_code: int | None = None
    reason: str | None = None
    queued_at: datetime | None = None
    dispatched: bool = False
    """Whether the latest attempt was handed to runners as a job."""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_ms: int | None = None
    outputs: dict[str, str] = {}
    metrics: dict[str, float] = {}
    approvals: tuple[str, ...] = ()
    """Who approved the gate so far (principal ids)."""
    approved: bool = False
    """Its gate opened: the step may be queued."""
    deadline: datetime | None = None
    """When a waiting gate decides by itself (`on_timeout`)."""
    waiting_for_runner: tuple[str, ...] = ()
    """The labels no live runner served when the latest attempt was queued (until it starts)."""
    carried_from: UUID | None = None
    """The run a failed-only retry took this succeeded step from."""


def valid_trigger(trigger: Trigger, retry_of: UUID | None) -> Trigger:
    kind = valid_member(TriggerKind, "trigger.kind", trigger.kind)
    if (kind is TriggerKind.RETRY) != (retry_of is not None):
        raise InvalidValue("retry_of", "set exactly when the trigger kind is 'retry'")
    if trigger.pull_request is not None and not 1 <= trigger.pull_request <= INT32_MAX:
        raise InvalidValue("trigger.pull_request", f"must be a number from 1 to {INT32_MAX}")
    for field, limit in _TRIGGER_TEXT:
        if (value := getattr(trigger, field)) is not None:
            valid_text(f"trigger.{field}", value, blank=True, limit=limit)
    if trigger.clone_url is not None:
        valid_clone_url(trigger.clone_url)
    if kind is not TriggerKind.WEBHOOK and (trigger.event or trigger.delivery_id):
        raise InvalidValue("trigger.event", "only a webhook trigger has an event and delivery")
    check_scheduled(trigger.kind == TriggerKind.SCHEDULE, trigger.schedule, trigger.slot)
    return msgspec.structs.replace(
        trigger, kind=kind, actor=valid_text("trigger.actor", trigger.actor, limit=ACTOR_MAX)
    )


_TRIGGER_TEXT = (
    ("repo", REPO_MAX),
    ("ref", REF_MAX),
    ("sha", SHA_MAX),
    ("event", EVENT_KIND_MAX),
    ("delivery_id", DELIVERY_ID_MAX),
    ("provider", KEY_MAX),
    ("clone_url", URL_MAX),
    ("base_ref", REF_MAX),
)


def valid_clone_url(url: str) -> str:
    """A URL git can fetch from, without a password in it: it is kept in an event forever."""
    field = "trigger.clone_url"
    scheme, sep, rest = url.partition("://")
    if sep:
        if scheme not in CLONE_SCHEMES:
            raise InvalidValue(field, f"a git URL: {', '.join(sorted(CLONE_SCHEMES))}")
        authority = rest.split("/", 1)[0]
        if ":" in authority.rpartition("@")[0]:
            raise InvalidValue(field, "must not hold a password: credentials come from secrets")
    elif not re.fullmatch(r"[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^\s]+", url):
        raise InvalidValue(field, "a git URL (scheme://host/path or user@host:path)")
    if _SPACE_OR_CONTROL.search(url):
        raise InvalidValue(field, "must not contain spaces or control characters")
    return url


_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f]")
"""The characters `str.isspace()` finds, or below 32 (re's Unicode space class is isspace's):
one scan in C where a generator per character took about 1% of the intake's CPU."""

CLONE_SCHEMES = frozenset({"https", "http", "ssh", "git", "file"})


def valid_external(external: ExternalRef) -> ExternalRef:
    provider = valid_member(Provider, "external.provider", external.provider)
    url = external.url.strip()
    if not url.startswith(("https://", "http://")):
        raise InvalidValue("external.url", "must be an http(s) URL")
    return ExternalRef(
        provider=provider,
        external_id=valid_text("external.external_id", external.external_id, limit=KEY_MAX),
        url=valid_text("external.url", url, limit=URL_MAX),
    )
