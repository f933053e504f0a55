"""The webhook secret sweeper: a source's previous secret, its rotation's grace period over,
is retired: its kept value deleted (`kept_secrets`) and `WebhookPreviousSecretRetired`
recorded with the reason.

A delivery signed with it is refused from the end of the grace period on anyway
(`WebhookSource.accepted_secrets`); the sweep makes the value itself go. Every dispatcher
sweeps, like the approval sweeper: two retiring the same secret write it once (the second
finds no previous secret and is refused, which is logged and dropped). It reads the
`webhook_sources` view for previous secrets past their `previous_valid_until`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from adapters.platform.periodic import every_until_stopped
from adapters.store import AppendOutcomeUnknown, StoreUnavailable
from commands.context import CommandContext
from commands.webhook_sources import SECRET_SWEEPER, RetireWebhookSecret
from domain.errors import DomainError
from projections import webhook_sources
from projections.projection import live_schema

log = logging.getLogger(__name__)

SWEEP_EVERY_S = 10.0


class SecretSweeper:
    def __init__(
        self,
        dispatch: Callable[[object, CommandContext], Awaitable[object]],
        pool: asyncpg.Pool,
        *,
        every_s: float = SWEEP_EVERY_S,
        schema: str = live_schema(webhook_sources.WebhookSourcesProjection.name),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._dispatch, self._pool = dispatch, pool
        self._every_s, self._schema, self._clock = every_s, schema, clock

    async def run(self, stop: asyncio.Event) -> None:
        await every_until_stopped(
            stop,
            self._every_s,
            lambda: self.sweep(self._clock()),
            log=log,
            name="webhook secret sweeper",
        )

    async def sweep(self, now: datetime) -> list[UUID]:
        """Retire every previous secret whose grace period is over at `now`; their sources."""
        try:
            due = await webhook_sources.previous_secrets_due(self._pool, self._schema, now)
        except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
            return []  # no projector has built the view yet
        retired = []
        for source_id in due:
            context = CommandContext(
                principal=SECRET_SWEEPER, at=now, correlation_id=f"secret-expiry:{source_id}"
            )
            try:
                await self._dispatch(RetireWebhookSecret(source_id=source_id), context)
            except (StoreUnavailable, AppendOutcomeUnknown):
                raise
            except DomainError as error:
                # Retired meanwhile (another sweeper), or rotated again: the view catches up.
                log.info("webhook secret sweeper: %s: %s", source_id, error)
                continue
            retired.append(source_id)
        if retired:
            log.info("webhook secret sweeper: retired %d previous secret(s)", len(retired))
        return retired
