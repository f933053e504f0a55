"""Learns, over core NATS, that a running step should stop: its run is cancelled or timed out,
or its attempt was failed without it (a reaper took it for lost).

The relay publishes every event on `<prefix>.<project>.<pipeline>.run.<run_id>.<type>`
(docs/streaming.md); the runner subscribes to the few types that mean "stop", for all runs
at once, and hands each to the steps it runs of that run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import msgspec
from nats.aio.client import Client as Nats
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from adapters.streaming.jobs import Job
from adapters.streaming.relay.subjects import filter_subject, token
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


class StopWatch:
    """`stopped` is set, with a `reason` and whether it is a `cancel`, when the step must stop."""

    def __init__(self, job: Job) -> None:
        self._job = job
        self.stopped = asyncio.Event()
        self.reason = ""
        self.cancel = False

    def stop(self, reason: str, *, cancel: bool = False) -> None:
        if not self.stopped.is_set():
            self.reason, self.cancel = reason, cancel
            self.stopped.set()

    def heard(self, event: _Event) -> None:
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


class StopSignals:
    """The runner's subscriptions to the stopping event types of every run, made once (and
    flushed) before it pulls its first job; each job's StopWatch is registered under its run.

    A watch registered before the step's "running" report hears every stopping event committed
    after that report (one committed before it makes the report 409). Per job, this spares four
    subscriptions, their removal and a round trip to the server on the way to the claim; each
    runner hears the stopping events of runs it does not run, and drops them unread.
    """

    def __init__(self, nc: Nats, prefix: str) -> None:
        self._nc, self._prefix = nc, prefix
        self._subscriptions: list[Subscription] = []
        self._watches: dict[str, set[StopWatch]] = {}
        """By the run's subject token."""

    async def __aenter__(self) -> StopSignals:
        for event_type in WATCHED:
            subject = filter_subject(
                self._prefix, stream_type=Run.stream_type, event_type=event_type
            )
            self._subscriptions.append(await self._nc.subscribe(subject, cb=self._on_event))
        await self._nc.flush()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for subscription in self._subscriptions:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()

    @contextlib.contextmanager
    def watching(self, job: Job) -> Iterator[StopWatch]:
        watch = StopWatch(job)
        run = token(job.run_id)
        self._watches.setdefault(run, set()).add(watch)
        try:
            yield watch
        finally:
            watches = self._watches[run]
            watches.discard(watch)
            if not watches:
                del self._watches[run]

    async def _on_event(self, msg: Msg) -> None:
        parts = msg.subject.split(".")
        watches = self._watches.get(parts[-2]) if len(parts) >= 2 else None
        if not watches:
            return
        try:
            event = msgspec.json.decode(msg.data, type=_Event)
        except msgspec.DecodeError:
            log.warning("undecodable event on %s", msg.subject)
            return
        for watch in list(watches):
            watch.heard(event)
