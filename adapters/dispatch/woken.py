"""The dispatcher's woken runs: each asked to dispatch its ready steps (`DispatchReady`
records `StepDispatched` on the run first), and the jobs recorded published at once.

Runs of definitions that join no concurrency group go side by side, up to DISPATCH_AT_ONCE
at a time (separate streams: one run's round trips need not wait for another's); the rest
one at a time in the order they were woken, as a group admits in the order runs join it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from uuid import UUID

from adapters.dispatch.jobs import JobPublisher
from commands.bus import CommandResult
from commands.dispatch import (
    DispatchReady,
    JobsDispatched,
    joins_no_group,
    requested_definition,
)
from domain.envelope import EventEnvelope

log = logging.getLogger(__name__)

DISPATCH_AT_ONCE = 4
"""Woken runs of one batch dispatched at the same time (the role's pool has 4 connections)."""
Command = Callable[..., Awaitable[CommandResult | None]]
"""The dispatcher's `_command(command, cause, at=...)`: None when the command was refused."""


class WokenRuns:
    def __init__(
        self,
        command: Command,
        publisher: JobPublisher,
        clock: Callable[[], datetime],
    ) -> None:
        self._command = command
        self._publisher = publisher
        self._clock = clock
        self.sent: set[UUID] = set()
        """Jobs published at once whose `StepDispatched` the feed has not brought back yet."""

    async def dispatch(self, woken: dict[UUID, EventEnvelope]) -> None:
        """Each woken run dispatched and its jobs published. Every run is seen to its end
        before an error is raised, so a replayed batch has nothing in flight."""
        if len(woken) <= 1:
            for run_id, cause in woken.items():
                await self._dispatch_run(run_id, cause)
            return
        free: list[tuple[UUID, EventEnvelope]] = []
        in_order: list[tuple[UUID, EventEnvelope]] = []
        for run_id, cause in woken.items():
            (free if await self.groupless(cause) else in_order).append((run_id, cause))
        at_once = asyncio.Semaphore(DISPATCH_AT_ONCE)

        async def side_by_side(run_id: UUID, cause: EventEnvelope) -> None:
            async with at_once:
                await self._dispatch_run(run_id, cause)

        async def one_at_a_time() -> None:
            for run_id, cause in in_order:
                await self._dispatch_run(run_id, cause)

        outcomes = await asyncio.gather(
            one_at_a_time(),
            *(side_by_side(run_id, cause) for run_id, cause in free),
            return_exceptions=True,
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def groupless(self, cause: EventEnvelope) -> bool:
        """Whether the run `cause` woke surely joins no group (unsure: it goes in order)."""
        pinned = requested_definition(cause.type, cause.data)
        if pinned is None:
            return False
        try:
            return joins_no_group(await self._publisher.definition(*pinned))
        except Exception as error:  # its dispatch, in order, meets the same error if it lasts
            log.info("dispatcher: definition %s not read (%s): dispatched in order", pinned, error)
            return False

    async def _dispatch_run(self, run_id: UUID, cause: EventEnvelope) -> None:
        at = self._clock()
        result = await self._command(DispatchReady(run_id=run_id), cause, at=at)
        if isinstance(result, JobsDispatched) and result.position is not None:
            await self._publish_now(run_id, result, at)

    async def _publish_now(self, run_id: UUID, result: JobsDispatched, at: datetime) -> None:
        recorded = [(job.step, job.attempt, job.label) for job in result.jobs]
        if not recorded:
            return
        try:
            jobs = await self._publisher.jobs(
                run_id,
                recorded,
                dispatched_at=at,
                traceparent=result.traceparent,
                decided=result.run,
            )
            for job in jobs:
                await self._publisher.publish(job)
                self.sent.add(job.job_id)
        except Exception as error:  # the feed's copy of the record publishes the rest later
            log.warning("dispatcher: jobs of run %s not all published yet: %s", run_id, error)
