"""Per-step commit reports: a pipeline with `step_statuses` reports each step as well, as its
own status (or check run) named `<the run's context>/<step>`, from the step's events."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol, TypeVar

STEP_STATES = {
    "StepQueued": "queued",
    "StepStarted": "running",
    "StepSucceeded": "success",
    "StepFailed": "failure",
    "StepTimedOut": "failure",
    "StepCancelled": "cancelled",
}
"""A step's events and what each reports. A skipped step was never queued: nothing to say."""


class _Commit(Protocol):
    @property
    def context(self) -> str: ...
    @property
    def step(self) -> str | None: ...
    @property
    def step_statuses(self) -> bool: ...


C = TypeVar("C", bound=_Commit)


def step_commit(commit: C, data: Mapping[str, Any]) -> C | None:
    """The run's commit as the step of `data` reports it; None if its steps report nothing."""
    step = data.get("step")
    if not commit.step_statuses or not isinstance(step, str) or not step:
        return None
    return replace(commit, step=step, context=f"{commit.context}/{step}")  # type: ignore[type-var]


def pinned_definition(events: Sequence[Any], version: int) -> Mapping[str, Any]:
    """The definition at `version` among a pipeline's stream events (created, versions)."""
    for event in events:
        if event.data.get("version") == version and isinstance(event.data.get("definition"), dict):
            return event.data["definition"]
    return {}
