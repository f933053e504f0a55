"""A runner's stop signals: one set of subscriptions for all runs, each event to its run's steps."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from uuid import uuid4

import msgspec
from nats.aio.client import Client as NatsClient

from adapters.runner.watch import StopSignals
from adapters.streaming.jobs import Job
from tests.helpers import unique_id
from tests.integration.runner.stack import eventually


def job(step: str, attempt: int = 1) -> Job:
    return Job(
        job_id=uuid4(), run_id=uuid4(), project_id=uuid4(), pipeline_id=uuid4(),
        pipeline_version=1, step=step, attempt=attempt, run="true", env={}, parameters={},
        timeout_s=60, label="t", dispatched_at=datetime.now(UTC),
    )  # fmt: skip


def subject(prefix: str, of: Job, event_type: str) -> str:
    return f"{prefix}.{of.project_id}.{of.pipeline_id}.run.{of.run_id}.{event_type}"


async def test_a_stopping_event_reaches_the_steps_of_its_run_only(nats_url: str) -> None:
    prefix = unique_id("signals_")
    nc = NatsClient()
    await nc.connect(nats_url)
    try:
        async with StopSignals(nc, prefix) as signals:
            build, other_attempt, elsewhere = job("build"), job("build", 2), job("build")
            other_attempt = msgspec.structs.replace(other_attempt, run_id=build.run_id)
            with (
                signals.watching(build) as watch,
                signals.watching(other_attempt) as older,
                signals.watching(elsewhere) as untouched,
            ):
                failed = {"type": "StepFailed", "data": {"step": "build", "attempt": 1,
                                                         "reason": "runner_lost"}}  # fmt: skip
                await nc.publish(subject(prefix, build, "StepFailed"), msgspec.json.encode(failed))
                await eventually(watch.stopped.is_set)
                assert "failed elsewhere (runner_lost)" in watch.reason and not watch.cancel
                # Attempt 2 of the same step, and the same step of another run, go on.
                assert not older.stopped.is_set() and not untouched.stopped.is_set()

                cancel = {"type": "RunCancelRequested", "data": {"actor": "ana", "reason": "typo"}}
                await nc.publish(
                    subject(prefix, build, "RunCancelRequested"), msgspec.json.encode(cancel)
                )
                await eventually(older.stopped.is_set)
                assert (older.reason, older.cancel) == ("run cancelled by ana: typo", True)
                await nc.flush()
                await asyncio.sleep(0.1)
                assert not untouched.stopped.is_set()
            # A step that ended is forgotten: its run's later events find nobody to stop.
            await nc.publish(
                subject(prefix, elsewhere, "RunCancelRequested"), msgspec.json.encode(cancel)
            )
            await nc.flush()
            await asyncio.sleep(0.1)
            assert not untouched.stopped.is_set()
    finally:
        await nc.close()
