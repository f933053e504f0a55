"""What the dispatcher decides, without its tables or NATS: whom to wake, what to publish,
which attempts are lost, which runners are reaped, and the context its commands carry."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from commands.dispatch import (
    DISPATCHER,
    LostAttempt,
    dispatcher_context,
    fail_lost,
    reap,
    runs_to_wake,
    stays_gone,
    still_to_publish,
)
from commands.run_reports import ReportStepStatus
from commands.runners import MarkRunnerLost
from domain.envelope import EventEnvelope, EventMetadata
from domain.run_dispatch import RUNNER_LOST

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
_positions = itertools.count(1)


def event(
    type: str, stream: UUID, metadata: EventMetadata | None = None, **data: Any
) -> tuple[EventEnvelope, dict[str, Any]]:
    envelope = EventEnvelope(
        event_id=uuid4(),
        position=next(_positions),
        stream_id=str(stream),
        stream_type="run",
        version=1,
        type=type,
        schema_version=1,
        recorded_at=AT,
        data=data,
        metadata=metadata or EventMetadata(),
        hash="",
    )
    return envelope, data


def test_a_run_is_woken_by_the_last_event_that_may_make_a_step_ready() -> None:
    run = uuid4()
    requested, succeeded = event("RunRequested", run), event("StepSucceeded", run)

    woken = runs_to_wake([requested, event("StepStarted", run), succeeded])

    assert woken == {run: succeeded[0]}


def test_a_dispatch_recorded_later_in_the_batch_answers_the_wake() -> None:
    run, other = uuid4(), uuid4()

    woken = runs_to_wake(
        [event("StepQueued", run), event("StepQueued", other), event("StepDispatched", run)]
    )

    assert list(woken) == [other]


def test_a_run_woken_again_after_its_dispatch_is_asked_again() -> None:
    run = uuid4()
    again = event("StepFailed", run)

    woken = runs_to_wake([event("StepQueued", run), event("StepDispatched", run), again])

    assert woken == {run: again[0]}


def test_an_ended_run_and_an_external_run_are_never_woken() -> None:
    ended, external = uuid4(), uuid4()

    woken = runs_to_wake(
        [
            event("StepSucceeded", ended),
            event("RunSucceeded", ended),
            event("RunRequested", external, external={"provider": "github"}),
        ]
    )

    assert woken == {}


def test_only_a_reregistered_runner_comes_back() -> None:
    assert stays_gone("RunnerLost") and stays_gone("RunnerDeregistered")
    assert not stays_gone("RunnerReregistered")


def test_a_lost_attempt_is_reported_failed_as_runner_lost() -> None:
    run = uuid4()

    command = fail_lost(LostAttempt(run_id=run, step="build", attempt=2, runner="r-1"))

    assert command == ReportStepStatus(
        run_id=run, step="build", status="failed", attempt=2, runner="r-1", reason=RUNNER_LOST
    )


def test_a_job_published_at_once_is_not_published_again_when_its_record_comes_back() -> None:
    sent_at_once, recorded_only, still_in_flight = uuid4(), uuid4(), uuid4()

    unsent, sent = still_to_publish([sent_at_once, recorded_only], {sent_at_once, still_in_flight})

    assert unsent == [recorded_only]
    assert sent == {still_in_flight}


def test_a_dispatcher_command_continues_its_causes_correlation_and_trace() -> None:
    run = uuid4()
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    cause, _ = event(
        "StepSucceeded", run, EventMetadata(correlation_id="c-1", traceparent=traceparent)
    )
    bare, _ = event("StepSucceeded", run)

    context = dispatcher_context(cause, AT)

    assert (context.principal, context.at, context.correlation_id) == (DISPATCHER, AT, "c-1")
    assert (context.causation_id, context.traceparent) == (str(cause.event_id), traceparent)
    assert dispatcher_context(bare, AT).correlation_id == f"dispatch:{run}"


def test_a_silent_runner_is_marked_lost_saying_for_how_long() -> None:
    runner = uuid4()
    seen = AT - timedelta(seconds=95)

    command, context = reap(runner, seen, AT)

    assert command == MarkRunnerLost(
        runner_id=runner, last_seen=seen, reason="no heartbeat for 95 s"
    )
    assert (context.principal, context.at, context.correlation_id) == (
        DISPATCHER,
        AT,
        f"reaper:{runner}",
    )
