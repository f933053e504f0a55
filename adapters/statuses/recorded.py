"""What a report's stream (one per run, one per step with `step_statuses`) shows so far."""

from __future__ import annotations

from uuid import UUID

from adapters.statuses.check_runs import RecordedCheckRun
from adapters.store.store import EventStore
from domain.commit_status import CommitStatusReport, report_stream_id, step_report_stream_id
from domain.envelope import EventEnvelope

_ATTEMPTED = CommitStatusReport.Attempted.event_type
_CREATED = CommitStatusReport.CheckRunCreated.event_type
_REQUESTED = CommitStatusReport.CheckRunRequested.event_type


class Recorded:
    """Reads what the ledger holds of (run, step) reports, after a restart too."""

    def __init__(self, store: EventStore) -> None:
        self.store = store

    async def check_run(self, run_id: UUID, step: str | None) -> RecordedCheckRun:
        check_run_id, requested = None, None
        for event in await self._events(run_id, step):
            if event.type == _CREATED:
                check_run_id = int(event.data["check_run_id"])
            elif event.type == _REQUESTED:
                requested = str(event.data["external_id"])
        return RecordedCheckRun(check_run_id, requested)

    async def reported(self, run_id: UUID, step: str | None) -> str | None:
        """The state the host last accepted (a 2xx answer), as the aggregate keeps it."""
        state = None
        for event in await self._events(run_id, step):
            status = event.data.get("http_status") if event.type == _ATTEMPTED else None
            if isinstance(status, int) and 200 <= status < 300:
                state = str(event.data["state"])
        return state

    async def _events(self, run_id: UUID, step: str | None) -> list[EventEnvelope]:
        stream = report_stream_id(run_id) if step is None else step_report_stream_id(run_id, step)
        return await self.store.read_stream(str(stream))
