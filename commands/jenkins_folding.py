"""Jenkins notifications about a build a jenkins step started: folded into that step's run.

The intake asks the read side (a port, answered by an adapter) which step attempt started
build `number` of a job; with an answer, the delivery is recorded as an update of that run
(the step itself reports the build's progress and result), never as a second, mirrored run.
"""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

import msgspec

from commands.webhook_payloads import Backflow
from domain.run_statuses import Provider


class BuildOwner(msgspec.Struct, frozen=True, kw_only=True):
    run_id: UUID
    step: str
    attempt: int


class JenkinsBuilds(Protocol):
    """The read side's answer: who started this build, if a jenkins step did."""

    async def __call__(
        self, project_id: UUID, job: str, number: int, url: str | None, *, position: int
    ) -> BuildOwner | None:
        """The step attempt of a run in the project that started build `number` of `job`
        (`job` as the notification names it), as the view stands at `position` or later."""


def jenkins_build(facts: Backflow) -> tuple[str, int] | None:
    """(job, build number) of a Jenkins notification; None for other providers."""
    if facts.provider is not Provider.JENKINS:
        return None
    job, _, number = facts.external_id.rpartition("#")
    return (job, int(number)) if job and number.isdigit() else None


def folded_reason(label: str, owner: BuildOwner, status: str) -> str:
    return (
        f"folded: {label} {status} was started by step {owner.step} "
        f"(attempt {owner.attempt}) of this run"
    )
