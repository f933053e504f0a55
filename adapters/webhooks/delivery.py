"""What identifies a delivery per provider: its id, its event kind, the headers worth keeping."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, assert_never

from domain.webhook_delivery import DELIVERY_ID_MAX, EVENT_MAX
from domain.webhook_source import Kind

HEADER_VALUE_MAX = 1024
# An allow-list, so a signature, token or Authorization value can never slip into an event.
_COMMON = ("content-type", "user-agent")
RECORDED_HEADERS: dict[str, tuple[str, ...]] = {
    "github": (
        *_COMMON,
        "x-github-event",
        "x-github-delivery",
        "x-github-hook-id",
        "x-github-hook-installation-target-type",
        "x-github-hook-installation-target-id",
        "x-github-enterprise-host",
        "x-github-enterprise-version",
    ),
    "gitlab": (
        *_COMMON,
        "x-gitlab-event",
        "x-gitlab-event-uuid",
        "idempotency-key",
        "x-gitlab-webhook-uuid",
        "x-gitlab-instance",
        "webhook-id",
        "webhook-timestamp",
    ),
    "jenkins": _COMMON,
    "generic": (*_COMMON, "webhook-id", "webhook-timestamp", "webhook-event"),
}


def delivery_id(kind: Kind, headers: Mapping[str, str], body: bytes) -> str:
    """The provider's id of this delivery, the same on every redelivery of it."""
    match kind:
        case "github":
            given = headers.get("x-github-delivery")
        case "gitlab":
            # Idempotency-Key (GitLab 17.4+) is documented as stable across retries; the
            # older X-Gitlab-Event-UUID is shared by recursive hooks, so it comes second.
            given = headers.get("idempotency-key") or headers.get("x-gitlab-event-uuid")
        case "jenkins":
            # No id at all; STARTED, COMPLETED and FINALIZED differ in body, retries do not.
            given = None
        case "generic":
            given = headers.get("webhook-id")
        case _:
            assert_never(kind)
    given = given.strip() if given else ""
    if not given:
        return digest(body)
    # Hashed rather than cut: two long ids sharing a prefix must stay two deliveries.
    return given if len(given) <= DELIVERY_ID_MAX else digest(given.encode())


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def event_kind(kind: Kind, headers: Mapping[str, str], body_type: Any) -> str:
    """The provider's name for what happened (`push`, `Pipeline Hook`, `notification`, ...).

    `body_type` is the body's top-level `type`, where generic senders name their event.
    """
    match kind:
        case "github":
            given = headers.get("x-github-event")
        case "gitlab":
            given = headers.get("x-gitlab-event")
        case "jenkins":
            return "notification"  # the phase is only in the body, `build.phase`
        case "generic":
            given = body_type if isinstance(body_type, str) else headers.get("webhook-event")
            return _named(given, "generic")
        case _:
            assert_never(kind)
    return _named(given, "unknown")


def recorded_headers(kind: Kind, headers: Mapping[str, str]) -> dict[str, str]:
    """The headers an auditor needs to read the delivery, each cut to a sane length."""
    return {
        name: value[:HEADER_VALUE_MAX]
        for name in RECORDED_HEADERS[kind]
        if (value := headers.get(name)) is not None
    }


def _named(given: str | None, default: str) -> str:
    given = given.strip() if given else ""
    return given[:EVENT_MAX] if given else default
