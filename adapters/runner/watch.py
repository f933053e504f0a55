"""Learns, over core NATS, that a running step should stop: its run is cancelled or timed out,
or its attempt was failed without it (a reaper took it for lost).

The relay publishes every event on `<prefix>.<project>.<pipeline>.run.<run_id>.<type>`
(docs/streaming.md); the runner subscribes to the few types that mean "stop" for one job.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import msgspec
from nats.aio.client import Client as Nats
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from adapters.streaming.jobs import Job
from adapters.streaming.relay.subjects import filter_subject
from domain.run import Run

log = logging.getLogger(__name__)

CANCEL_REQUESTED = Run.CancelRequested.event_type
RUN_TIMED_OUT = Run.TimedOut.event_type
STEP_FAILED = Run.StepFailed.event_type
STEP_CANCELLED = Run.StepCancelled.event_type
"""One step cancelled while its run goes on: a matrix sibling failed fast."""
WATCHED = (CANCEL_REQUESTED, RUN_TIMED_OUT, STEP_FAILED, STEP_CANCELLED)


class _Event(msgspec.Struct, kw_only=True):
    type: str
    data: dict[str, Any] = {}


def run_subject(prefix: str, job: Job, event_type: str) -> str:
    return filter_subject(
        prefix,
        project=str(job.project_id),
        pipeline=str(job.pipeline_id),
        stream_type=Run.stream_type,
        stream_id=str(job.run_id),
        event_type=event_type,
    )


class StopWatch:
    """`stopped` is set, with a `reason` and whether it is a `cancel`, when the step must stop."""

    def __init__(self, nc: Nats, prefix: str, job: Job) -> None:
        self._nc, self._prefix, self._job = nc, prefix, job
        self._subscriptions: list[Subscription] = []
        self.stopped = asyncio.Event()
        self.reason = ""
        self.cancel = False

    async def __aenter__(self) -> StopWatch:
        # Subscribed before the step is reported running: a cancel committed after that
        # report is published after this point, and one committed before makes the report 409.
        for event_type in WATCHED:
            subject = run_subject(self._prefix, self._job, event_type)
            self._subscriptions.append(await self._nc.subscribe(subject, cb=self._on_event))
        await self._nc.flush()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for subscription in self._subscriptions:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()

    def stop(self, reason: str, *, cancel: bool = False) -> None:
        if not self.stopped.is_set():
            self.reason, self.cancel = reason, cancel
            self.stopped.set()

    async def _on_event(self, msg: Msg) -> None:
        try:
            event = msgspec.json.decode(msg.data, type=_Event)
        except msgspec.DecodeError:
            log.warning("undecodable event on %s", msg.subject)
            return
        data = event.data
        if event.type == CANCEL_REQUESTED:
            by = data.get("actor") or "someone"
            why = f": {data['reason']}" if data.get("reason") else ""
            self.stop(f"run cancelled by {by}{why}", cancel=True)
        elif event.type == RUN_TIMED_OUT:
            self.stop("the run timed out")
        elif (
            event.type == STEP_FAILED
            and data.get("step") == self._job.step
            and data.get("attempt") == self._job.attempt
        ):
            self.stop(f"this attempt was failed elsewhere ({data.get('reason', 'no reason')})")
        elif event.type == STEP_CANCELLED and data.get("step") == self._job.step:
            self.stop(f"step cancelled: {data.get('reason') or 'no reason'}", cancel=True)
