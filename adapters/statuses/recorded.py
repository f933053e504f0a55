"""What a report's stream (one per run, one per step with `step_statuses`) shows so far, as
the CommitStatusReport aggregate folds it: after a restart too."""

from __future__ import annotations

from uuid import UUID

from adapters.statuses.check_runs import RecordedCheckRun
from adapters.store.repository import AggregateNotFound, Repository
from domain.commit_status import CommitStatusReport, report_stream_id, step_report_stream_id


class Recorded:
    def __init__(self, repository: Repository) -> None:
        self.repository = repository

    async def check_run(self, run_id: UUID, step: str | None) -> RecordedCheckRun:
        report = await self._report(run_id, step)
        if report is None:
            return RecordedCheckRun()
        return RecordedCheckRun(report.check_run_id, report.check_run_requested)

    async def reported(self, run_id: UUID, step: str | None) -> str | None:
        """The state the host last accepted (a 2xx answer)."""
        report = await self._report(run_id, step)
        return None if report is None else report.reported

    async def _report(self, run_id: UUID, step: str | None) -> CommitStatusReport | None:
        stream = report_stream_id(run_id) if step is None else step_report_stream_id(run_id, step)
        try:
            return await self.repository.get(CommitStatusReport, stream)
        except AggregateNotFound:
            return None
