"""Jenkins Notification plugin deliveries: one document per build phase, no event header."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec

from commands.webhook_payloads.facts import (
    BUILD,
    Backflow,
    DeliveryFacts,
    Ignored,
    absolute_url,
    branch_ref,
    decode,
)
from domain.run_statuses import ExternalStatus, Provider

_S = ExternalStatus
_RESULTS = {
    "SUCCESS": (_S.SUCCEEDED, ""),
    # Built, but its tests failed: not a success anyone should ship.
    "UNSTABLE": (_S.FAILED, "unstable"),
    "FAILURE": (_S.FAILED, ""),
    "FAILED": (_S.FAILED, ""),
    "ABORTED": (_S.CANCELLED, "aborted"),
    "NOT_BUILT": (_S.CANCELLED, "not built"),
}
_ENDED = frozenset({"COMPLETED", "FINALIZED", "FINISHED"})
"""FINISHED is FINALIZED's name before plugin 1.6."""


class _Scm(msgspec.Struct):
    branch: str | None = None
    commit: str | None = None


class _Build(msgspec.Struct):
    number: int
    phase: str
    status: str | None = None
    full_url: str | None = None
    timestamp: int | None = None
    duration: int | None = None
    scm: _Scm | None = None


class _Notification(msgspec.Struct):
    name: str
    build: _Build
    display_name: str | None = None


def parse(event: str, payload: str | bytes, content_type: str | None = None) -> DeliveryFacts:
    """The facts of one notification; `event` is unused (the phase is in the body)."""
    if content_type and "xml" in content_type.lower():
        return Ignored(reason="jenkins XML notifications are not read: choose the JSON format")
    body = decode(payload, _Notification, content_type=content_type)
    build = body.build
    label = f"jenkins build {body.name} #{build.number}"
    phase = build.phase.upper()
    detail = ""
    if phase == "QUEUED":
        status = _S.QUEUED
    elif phase == "STARTED":
        # The plugin's own STARTED example carries a status; a build that just started has none.
        status = _S.RUNNING
    elif phase in _ENDED:
        if (build.status or "").upper() not in _RESULTS:
            return Ignored(reason=f"{label} {phase.lower()} without a known status")
        status, detail = _RESULTS[(build.status or "").upper()]
    else:
        return Ignored(reason=f"{label}: unknown phase {build.phase!r}")
    started = _millis(build.timestamp)
    finished = _after(started, build.duration) if phase in _ENDED else None
    scm = build.scm or _Scm()
    return Backflow(
        kind=BUILD,
        provider=Provider.JENKINS,
        external_id=f"{body.name}#{build.number}",
        url=absolute_url(build.full_url),
        status=status,
        detail=detail,
        name=body.display_name or body.name,
        ref=scm.branch and branch_ref(_local_branch(scm.branch)),
        sha=scm.commit,
        started_at=started,
        finished_at=finished or None,
    )


def _local_branch(branch: str) -> str:
    # The git plugin names the remote-tracking branch: `origin/main` is the branch `main`.
    return branch.removeprefix("origin/")


def _millis(value: int | None) -> datetime | None:
    try:
        return datetime.fromtimestamp(value / 1000, UTC) if value else None
    except (OverflowError, OSError, ValueError):
        # A moment no calendar holds (a payload of 2^63 ms) says nothing: as if not sent.
        return None


def _after(start: datetime | None, millis: int | None) -> datetime | None:
    try:
        return start + timedelta(milliseconds=millis) if start and millis else None
    except (OverflowError, ValueError):
        return None
