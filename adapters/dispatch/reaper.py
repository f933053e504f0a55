"""The reaper: a runner silent for longer than the bound is marked lost (its steps then fail)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from adapters.platform.periodic import every_until_stopped
from adapters.store import AppendOutcomeUnknown, StoreUnavailable
from adapters.store.heartbeats import PgHeartbeats
from commands.dispatch import reap
from domain.errors import DomainError

log = logging.getLogger(__name__)


class Reaper:
    """Every dispatcher reaps (marking a runner lost twice decides nothing the second time).

    The runner's steps are not failed here: `RunnerLost` reaches the dispatch process through
    the event feed, which fails every attempt the runner had started, in feed order.
    """

    def __init__(
        self,
        dispatch: Callable[..., object],
        heartbeats: PgHeartbeats,
        *,
        lost_after_s: int,
        every_s: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._dispatch = dispatch
        self._heartbeats = heartbeats
        self._lost_after = timedelta(seconds=lost_after_s)
        self._every_s = every_s
        self._clock = clock

    async def run(self, stop: asyncio.Event) -> None:
        await every_until_stopped(
            stop, self._every_s, lambda: self.reap(self._clock()), log=log, name="reaper"
        )

    async def reap(self, now: datetime) -> list[str]:
        """Mark lost every runner silent since before `now - bound`; their ids."""
        reaped = []
        for runner_id, seen_at in await self._heartbeats.silent_since(now - self._lost_after):
            command, context = reap(runner_id, seen_at, now)
            try:
                await self._dispatch(command, context)  # type: ignore[misc]
            except (StoreUnavailable, AppendOutcomeUnknown):
                raise
            except DomainError as error:
                # Unknown or already gone: nothing to mark, stop watching it all the same.
                log.info("reaper: runner %s: %s", runner_id, error)
            await self._heartbeats.forget_if_silent(runner_id, seen_at)
            log.warning("runner %s marked lost: %s", runner_id, command.reason)
            reaped.append(str(runner_id))
        return reaped
