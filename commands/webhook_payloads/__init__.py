"""Webhook bodies to DeliveryFacts: what each provider's delivery means for runs.

Event kinds, the words pipelines list in `TriggerSpec.events` (one vocabulary for all sources):

| kind | GitHub | GitLab | Jenkins | what starts |
|---|---|---|---|---|
| `push` | `push` to `refs/heads/*` | Push Hook | | a run on the branch |
| `tag_push` | `push` to `refs/tags/*` | Tag Push Hook | | a run on the tag |
| `pull_request` | `pull_request` opened, synchronize, reopened | | | a run on the head |
| `merge_request` | | Merge Request Hook open, reopen, update with new commits | | same |
| `workflow_run` | `workflow_run`, `workflow_job` | | | mirrors an external run |
| `pipeline` | | Pipeline Hook, Job Hook | | mirrors an external run |
| `build` | | | notification (every phase) | mirrors an external run |

`pull_request` and `merge_request` are one concept: a trigger listing either matches both.
A tag push is never a `push`, so a pipeline on `push` alone does not run for tags; with `tags`
globs it does, as in GitHub Actions (`TriggerSpec.matches`). Deleted refs,
other pull request actions, `ping` and every other event are Ignored, with the reason. A
generic source's body names its own kind in `type` (else the `webhook-event` header), with
optional `repo`, `ref`, `sha` and `actor` at the top level or under `data` (the Standard
Webhooks envelope).
"""

from __future__ import annotations

from typing import Any

import msgspec

from commands.webhook_payloads import github, gitlab, jenkins
from commands.webhook_payloads.facts import (
    BUILD,
    MERGE_REQUEST,
    PIPELINE,
    PULL_REQUEST,
    PUSH,
    TAG_PUSH,
    WORKFLOW_RUN,
    Backflow,
    Custom,
    DeliveryFacts,
    Ignored,
    Job,
    PullRequest,
    Push,
    UnreadablePayload,
    decode,
)

__all__ = [
    "BUILD",
    "MERGE_REQUEST",
    "PIPELINE",
    "PULL_REQUEST",
    "PUSH",
    "TAG_PUSH",
    "WORKFLOW_RUN",
    "Backflow",
    "Custom",
    "DeliveryFacts",
    "Ignored",
    "Job",
    "PullRequest",
    "Push",
    "UnreadablePayload",
    "parse_delivery",
]

_PARSERS = {"github": github.parse, "gitlab": gitlab.parse, "jenkins": jenkins.parse}


class _Generic(msgspec.Struct):
    type: str | None = None
    data: dict[str, Any] = {}
    repo: str | None = None
    ref: str | None = None
    sha: str | None = None
    actor: str | None = None
    clone_url: str | None = None


def parse_delivery(
    source_kind: str, event: str, payload: str | bytes, *, content_type: str | None = None
) -> DeliveryFacts:
    """What a delivery means; UnreadablePayload if its body is not what its event promises."""
    if source_kind == "generic":
        return _generic(event, decode(payload, _Generic, content_type=content_type))
    parser = _PARSERS.get(source_kind)
    if parser is None:
        return Ignored(reason=f"unknown source kind {source_kind!r}")
    return parser(event, payload, content_type)


def _generic(event: str, body: _Generic) -> DeliveryFacts:
    def text(name: str) -> str | None:
        value = getattr(body, name) or body.data.get(name)
        return value if isinstance(value, str) and value else None

    # The ingestion side names a typeless delivery `generic` when no header named it either.
    kind = (body.type or "").strip() or (event if event != "generic" else "")
    if not kind:
        return Ignored(reason="generic delivery without a type")
    return Custom(
        kind=kind,
        repo=text("repo"),
        ref=text("ref"),
        sha=text("sha"),
        actor=text("actor"),
        clone_url=text("clone_url"),
    )
