"""NATS subjects for events: `<prefix>.<project>.<pipeline>.<stream_type>.<stream_id>.<type>`."""

from __future__ import annotations

import re
from typing import NamedTuple

from domain.envelope import EventEnvelope

DEFAULT_PREFIX = "flowledger.events"
NONE = "_"
"""The token where a level does not apply (an event outside any project or pipeline)."""

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


class Owner(NamedTuple):
    """The project and pipeline a stream belongs to (None: not applicable)."""

    project_id: str | None = None
    pipeline_id: str | None = None


def token(value: object) -> str:
    """One subject token: `.`, `*`, `>`, spaces and anything outside [A-Za-z0-9_-] become `_`."""
    text = "" if value is None else str(value)
    return _UNSAFE.sub("_", text) or NONE


def subject(prefix: str, envelope: EventEnvelope, owner: Owner) -> str:
    tokens = (
        owner.project_id,
        owner.pipeline_id,
        envelope.stream_type,
        envelope.stream_id,
        envelope.type,
    )
    return ".".join([prefix, *(token(t) for t in tokens)])


def filter_subject(
    prefix: str,
    *,
    project: str | None = None,
    pipeline: str | None = None,
    stream_type: str | None = None,
    stream_id: str | None = None,
    event_type: str | None = None,
) -> str:
    """The subject filter taking the events that match every level given (None: any)."""
    levels = [project, pipeline, stream_type, stream_id, event_type]
    while levels and levels[-1] is None:
        levels.pop()
    tokens = ["*" if level is None else token(level) for level in levels]
    return ".".join([prefix, *tokens, ">"]) if len(tokens) < 5 else ".".join([prefix, *tokens])


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def learn(envelope: EventEnvelope) -> Owner | None:
    """The owner an event reveals about its own stream, or None if it tells nothing."""
    data = envelope.data
    match envelope.type:
        case "ProjectCreated":
            return Owner(envelope.stream_id)
        case "PipelineCreated":
            return Owner(_text(data.get("project_id")), envelope.stream_id)
        case "RunRequested":
            return Owner(_text(data.get("project_id")), _text(data.get("pipeline_id")))
        case (
            "ApiKeyIssued"
            | "WebhookSourceRegistered"
            | "WebhookReceived"
            | "EnvironmentConfigured"
            | "ConcurrencyGroupOpened"
            | "ApproverGroupCreated"
        ):
            return Owner(_text(data.get("project_id")))
    return None
