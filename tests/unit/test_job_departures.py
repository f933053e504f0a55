"""A batch's job departures: per step the highest attempt that left; a run's end takes all."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from domain.envelope import EventEnvelope, EventMetadata
from domain.job_departures import JobDepartures
from domain.run import STEP_ENDS


def event(type: str, run: UUID, **data: Any) -> EventEnvelope:
    return EventEnvelope(
        event_id=uuid4(),
        position=1,
        stream_id=str(run),
        stream_type="run",
        version=1,
        type=type,
        schema_version=1,
        recorded_at=datetime(2026, 12, 7, tzinfo=UTC),
        data=data,
        metadata=EventMetadata(),
        hash="",
    )


def test_a_step_keeps_its_highest_attempt_and_an_ended_run_takes_its_steps() -> None:
    kept, ended = uuid4(), uuid4()
    gone = JobDepartures({"StepStarted", *STEP_ENDS})
    assert not gone
    assert gone.add(event("StepStarted", kept, step="build", attempt=2))
    assert gone.add(event("StepFailed", kept, step="build", attempt=1))  # an earlier attempt
    assert gone.add(event("StepStarted", kept, step="test"))  # unnumbered: every attempt
    assert gone.add(event("StepSucceeded", ended, step="build", attempt=1))
    assert gone.add(event("RunSucceeded", ended))
    assert not gone.add(event("StepDispatched", kept, step="deploy", attempt=1))
    assert gone
    assert gone.steps() == ([kept, kept], ["build", "test"], [2, 2**31 - 1])
    assert gone.runs == [ended]
    gone.clear()
    assert not gone and gone.steps() == ([], [], []) and gone.runs == []


def test_only_the_step_types_given_take_a_job_away() -> None:
    run = uuid4()
    ends_only = JobDepartures(STEP_ENDS)
    assert not ends_only.add(event("StepStarted", run, step="build", attempt=1))
    assert not ends_only
