"""Which Jenkins build a jenkins step's attempt started, on record.

The runner says so twice: before it asks Jenkins for a build (requested), and once Jenkins
gives the build a number (linked). Jenkins' own notifications about that build (the
Notification plugin, through a `jenkins` webhook source) are then folded into this run instead
of starting a mirrored run: the request is committed before Jenkins ever hears of the build,
so a notification that outruns the link still finds a request to wait for.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Protocol
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.errors import InvalidValue
from domain.limits import KEY_MAX
from domain.moments import require_aware
from domain.run_secrets import SecretCommands
from domain.run_state import RunEvent, RunState
from domain.value_checks import valid_text

URL_MAX = 2000
JOB_MAX = 2000


class _Linking(RunState, Protocol):
    @property
    def JenkinsBuildRequested(self) -> RunEvent: ...
    @property
    def JenkinsBuildLinked(self) -> RunEvent: ...


class JenkinsCommands:
    """Mixed into Run: the Jenkins build behind a jenkins step's attempt, and its events."""

    class JenkinsBuildRequested(Aggregate.Event):
        """A jenkins step's attempt is about to ask Jenkins for a build (`domain.run_jenkins`)."""

        event_type: ClassVar[str] = "JenkinsBuildRequested"
        step: str
        attempt: int
        project_id: UUID
        server: str
        job: str
        # No `apply`: on record for the webhook intake's folding; the step's state is unchanged.

    class JenkinsBuildLinked(Aggregate.Event):
        """A jenkins step's attempt started this Jenkins build (see `domain.run_jenkins`)."""

        event_type: ClassVar[str] = "JenkinsBuildLinked"
        step: str
        attempt: int
        project_id: UUID
        server: str
        job: str
        number: int
        url: str

    def record_jenkins_build(
        self: _Linking,
        step: str,
        *,
        attempt: int,
        runner: str | None,
        server: str,
        job: str,
        number: int | None,
        url: str | None,
        at: datetime,
    ) -> None:
        """A build requested (no number yet) or linked; only by the runner running the attempt."""
        require_aware(at)
        SecretCommands.require_running_attempt(self, step, attempt=attempt, runner=runner)
        if runner is not None:
            valid_text("runner", runner, limit=KEY_MAX)
        server = valid_text("server", server, limit=URL_MAX)
        job = valid_text("job", job, limit=JOB_MAX)
        where = {"step": step, "attempt": attempt, "project_id": self.project_id,
                 "server": server, "job": job}  # fmt: skip
        if number is None:
            if url is not None:
                raise InvalidValue("url", "a build's URL comes with its number")
            self.trigger_event(self.JenkinsBuildRequested, **where, timestamp=at)
            return
        if not 1 <= number <= 2**31 - 1:
            raise InvalidValue("number", "a build number from 1")
        url = valid_text("url", url or "", limit=URL_MAX)
        self.trigger_event(self.JenkinsBuildLinked, **where, number=number, url=url, timestamp=at)
