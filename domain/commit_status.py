"""The CommitStatusReport aggregate: what flowledger told a Git host about one run's commit.

One stream per run (`report_stream_id`), and one per step of a pipeline with `step_statuses`
(`step_report_stream_id`). Each HTTP request to GitHub's or GitLab's commit
status API is an event, with the state reported and the host's answer (its HTTP status, or
the error when none came), so an auditor sees every report, failed ones included. A report
to GitHub as a check run records, before asking GitHub to create it, the check run it asks for
(its name and the `external_id` that tags it), then the check run's id once GitHub created it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar, Literal, get_args
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.errors import InvalidValue
from domain.limits import (
    INT32_MAX,
    KEY_MAX,
    NAME_MAX,
    REASON_MAX,
    REPO_MAX,
    SHA_MAX,
    URL_MAX,
    clean,
    cut,
)
from domain.moments import require_aware

Host = Literal["github", "gitlab"]
HOSTS: tuple[str, ...] = get_args(Host)
RunState = Literal["queued", "running", "success", "failure", "cancelled"]
RUN_STATES: tuple[str, ...] = get_args(RunState)
CHECK_RUN_ID_MAX = 2**63 - 1
"""GitHub's ids are 64-bit integers."""
CHECK_NAME_MAX = len("flowledger/") + NAME_MAX + 1 + KEY_MAX
"""A check run's name: `flowledger/<pipeline>[/<step>]`."""
EXTERNAL_ID_MAX = 36 + 1 + KEY_MAX
"""A check run's external id: `<run id>[/<step>]`."""
_NAMESPACE = UUID("6f1c0b3e-8a51-4d6e-9a55-2f0c7f1b2d40")


_PROGRESS = {"queued": 0, "running": 1}
"""How far along each state is; every other state is an outcome, the furthest."""


def behind(reported: str | None, state: str) -> bool:
    """Whether reporting `state` would take the commit back from what it last showed: a late
    report (JetStream redelivering one that was never acknowledged) must not undo an outcome."""
    if reported is None:
        return False
    return _PROGRESS.get(state, 2) < _PROGRESS.get(reported, 2)


def report_stream_id(run_id: UUID) -> UUID:
    return uuid.uuid5(_NAMESPACE, str(run_id))


def step_report_stream_id(run_id: UUID, step: str) -> UUID:
    """The stream of one step's reports (a pipeline with `step_statuses`)."""
    return uuid.uuid5(_NAMESPACE, f"{run_id}/{step}")


class CommitStatusReport(Aggregate):
    stream_type = "commit_status"

    class Event(Aggregate.Event):
        pass

    class Opened(Event, Aggregate.Created):
        """Schema v2 added `step` (None: the run's own report); v1 events are runs' reports."""

        event_type: ClassVar[str] = "CommitStatusReportOpened"
        schema_version: ClassVar[int] = 2
        run_id: UUID
        project_id: UUID
        host: Host
        repo: str
        sha: str
        step: str | None

        @staticmethod
        def upcast_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
            return {**data, "step": None}

    class Attempted(Event):
        event_type: ClassVar[str] = "CommitStatusAttempted"
        state: RunState
        attempt: int
        http_status: int | None
        error: str
        target_url: str

        def apply(self, aggregate: CommitStatusReport) -> None:
            aggregate.attempts += 1
            if self.http_status is not None and 200 <= self.http_status < 300:
                aggregate.reported = self.state

    class CheckRunRequested(Event):
        """About to ask GitHub to create the report's check run, `name`d on the report's commit
        and tagged `external_id`, to report `state`. Recorded before the request: a reporter
        gone before it recorded GitHub's answer finds that check run again by its external id
        instead of creating a second one."""

        event_type: ClassVar[str] = "CommitStatusCheckRunRequested"
        name: str
        external_id: str
        state: RunState

        def apply(self, aggregate: CommitStatusReport) -> None:
            aggregate.check_run_requested = self.external_id

    class CheckRunCreated(Event):
        """GitHub created the report's check run: its id (a provider identifier, no secret),
        so that later reports, after a restart too, update that check run."""

        event_type: ClassVar[str] = "CommitStatusCheckRunCreated"
        check_run_id: int

        def apply(self, aggregate: CommitStatusReport) -> None:
            aggregate.check_run_id = self.check_run_id

    def __init__(
        self, run_id: UUID, project_id: UUID, host: Host, repo: str, sha: str, step: str | None
    ) -> None:
        self.run_id, self.project_id, self.step = run_id, project_id, step
        self.host, self.repo, self.sha = host, repo, sha
        self.attempts = 0
        self.reported: str | None = None
        self.check_run_id: int | None = None
        self.check_run_requested: str | None = None
        """The external id of the check run asked for, once asked."""

    @classmethod
    def open(
        cls,
        *,
        run_id: UUID,
        project_id: UUID,
        host: str,
        repo: str,
        sha: str,
        at: datetime,
        step: str | None = None,
    ) -> CommitStatusReport:
        require_aware(at)
        if host not in HOSTS:
            raise InvalidValue("host", f"one of {list(HOSTS)}")
        if not 1 <= len(clean("repo", repo)) <= REPO_MAX:
            raise InvalidValue("repo", f"1 to {REPO_MAX} characters")
        if not 1 <= len(clean("sha", sha)) <= SHA_MAX:
            raise InvalidValue("sha", f"1 to {SHA_MAX} characters")
        if step is not None and not 1 <= len(clean("step", step)) <= KEY_MAX:
            raise InvalidValue("step", f"1 to {KEY_MAX} characters")
        return cls._create(
            cls.Opened,
            id=report_stream_id(run_id) if step is None else step_report_stream_id(run_id, step),
            step=step,
            timestamp=at,
            run_id=run_id,
            project_id=project_id,
            host=host,
            repo=repo,
            sha=sha,
        )

    def check_run_requested_as(
        self, *, name: str, external_id: str, state: str, at: datetime
    ) -> None:
        """Records the request for the report's check run; once per external id."""
        require_aware(at)
        if self.host != "github":
            raise InvalidValue("external_id", "only for a report to GitHub")
        if not 1 <= len(clean("name", name)) <= CHECK_NAME_MAX:
            raise InvalidValue("name", f"1 to {CHECK_NAME_MAX} characters")
        if not 1 <= len(clean("external_id", external_id)) <= EXTERNAL_ID_MAX:
            raise InvalidValue("external_id", f"1 to {EXTERNAL_ID_MAX} characters")
        if state not in RUN_STATES:
            raise InvalidValue("state", f"one of {list(RUN_STATES)}")
        if external_id != self.check_run_requested:
            self.trigger_event(
                self.CheckRunRequested, name=name, external_id=external_id, state=state,
                timestamp=at,
            )  # fmt: skip

    def check_run_created(self, check_run_id: int, *, at: datetime) -> None:
        require_aware(at)
        if self.host != "github":
            raise InvalidValue("check_run_id", "only for a report to GitHub")
        if not 1 <= check_run_id <= CHECK_RUN_ID_MAX:
            raise InvalidValue("check_run_id", f"1 to {CHECK_RUN_ID_MAX}")
        if check_run_id != self.check_run_id:
            self.trigger_event(self.CheckRunCreated, check_run_id=check_run_id, timestamp=at)

    def attempted(
        self,
        *,
        state: str,
        attempt: int,
        http_status: int | None,
        error: str,
        target_url: str,
        at: datetime,
    ) -> None:
        require_aware(at)
        if state not in RUN_STATES:
            raise InvalidValue("state", f"one of {list(RUN_STATES)}")
        if not 1 <= attempt <= INT32_MAX:
            raise InvalidValue("attempt", f"1 to {INT32_MAX}")
        if http_status is not None and not 100 <= http_status <= 599:
            raise InvalidValue("http_status", "an HTTP status from 100 to 599")
        if len(clean("target_url", target_url)) > URL_MAX:
            raise InvalidValue("target_url", f"at most {URL_MAX} characters")
        self.trigger_event(
            self.Attempted,
            state=state,
            attempt=attempt,
            http_status=http_status,
            error=cut(error, REASON_MAX),
            target_url=target_url,
            timestamp=at,
        )
