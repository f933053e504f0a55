"""Which Jenkins build a jenkins step's attempt started, on record.

The runner says so as soon as Jenkins gives the build a number: Jenkins' own notifications
about that build (the Notification plugin, through a `jenkins` webhook source) are then
folded into this run instead of starting a mirrored run of their own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from domain.errors import InvalidValue
from domain.moments import require_aware
from domain.run_secrets import SecretCommands
from domain.run_state import RunEvent, RunState
from domain.run_values import KEY_MAX, valid_text

URL_MAX = 2000
JOB_MAX = 2000


class _Linking(RunState, Protocol):
    @property
    def JenkinsBuildLinked(self) -> RunEvent: ...


class JenkinsCommands:
    """Mixed into Run: the Jenkins build behind a jenkins step's attempt."""

    def link_jenkins_build(
        self: _Linking,
        step: str,
        *,
        attempt: int,
        runner: str | None,
        server: str,
        job: str,
        number: int,
        url: str,
        at: datetime,
    ) -> None:
        """Record the build; only the runner running that attempt, while it runs, may say."""
        require_aware(at)
        SecretCommands.require_running_attempt(self, step, attempt=attempt, runner=runner)
        if runner is not None:
            valid_text("runner", runner, limit=KEY_MAX)
        if not 1 <= number <= 2**31 - 1:
            raise InvalidValue("number", "a build number from 1")
        valid_text("url", url, limit=URL_MAX)
        valid_text("job", job, limit=JOB_MAX)
        valid_text("server", server, limit=URL_MAX)
        self.trigger_event(
            self.JenkinsBuildLinked,
            step=step,
            attempt=attempt,
            server=server,
            job=job,
            number=number,
            url=url,
            timestamp=at,
        )
