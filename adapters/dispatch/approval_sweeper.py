"""The approval sweeper: a gate past its deadline takes its default outcome (`on_timeout`).

Like the reaper, every dispatcher sweeps: two sweepers expiring the same gate write it once
(the second finds the step decided and is refused, which is logged and dropped). It reads the
`approvals` view for gates whose deadline passed and sends `ExpireApproval`, whose decision is
recorded under the timeout's own name.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg

from adapters.platform.periodic import every_until_stopped
from adapters.store import AppendOutcomeUnknown, StoreUnavailable
from commands.approvals import SWEEPER, ExpireApproval
from commands.context import CommandContext
from domain.errors import DomainError
from projections import approvals
from projections.projection import live_schema

log = logging.getLogger(__name__)

SWEEP_EVERY_S = 1.0


class ApprovalSweeper:
    def __init__(
        self,
        dispatch: Callable[[object, CommandContext], Awaitable[object]],
        pool: asyncpg.Pool,
        *,
        every_s: float = SWEEP_EVERY_S,
        schema: str = live_schema(approvals.ApprovalsProjection.name),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._dispatch = dispatch
        self._pool = pool
        self._every_s = every_s
        self._schema = schema
        self._clock = clock

    async def run(self, stop: asyncio.Event) -> None:
        await every_until_stopped(
            stop, self._every_s, lambda: self.sweep(self._clock()), log=log, name="approval sweeper"
        )

    async def sweep(self, now: datetime) -> list[tuple[str, str]]:
        """Expire every gate due at `now`; the (run, step) pairs it decided."""
        try:
            due = await approvals.due(self._pool, self._schema, now)
        except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
            return []  # no projector has built the view yet
        decided = []
        for run_id, step in due:
            context = CommandContext(
                principal=SWEEPER, at=now, correlation_id=f"approval-timeout:{run_id}:{step}"
            )
            try:
                await self._dispatch(ExpireApproval(run_id=run_id, step=step), context)
            except (StoreUnavailable, AppendOutcomeUnknown):
                raise
            except DomainError as error:
                # Decided meanwhile (by a person, or another sweeper): the view will catch up.
                log.info("approval sweeper: %s/%s: %s", run_id, step, error)
                continue
            decided.append((str(run_id), step))
        return decided
