"""The views' quarantines for the command side (the `Quarantines` port), and what
`flowledger projections quarantine list|retry|skip` runs."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

import asyncpg
import msgspec

from adapters.bootstrap.resources import open_resources
from adapters.platform.admin_key import operator
from adapters.platform.runtime import servers
from adapters.platform.settings import Settings
from commands.quarantine import RetryQuarantinedEvents, SkipQuarantinedEvent
from projections import quarantine_ops
from projections.quarantine_ops import DecisionOutcome, QuarantinedEvent

T = TypeVar("T")
Out = Callable[[str], None]
OUTCOME_WAIT_S = 10.0
"""How long `retry`/`skip` wait for the projector to act on the decision before saying so."""


class Decided(msgspec.Struct, frozen=True, kw_only=True):
    projection: str
    stream_id: str
    action: quarantine_ops.Action
    position: int
    """The poison event the decision was about."""
    decided_at: int | None
    """The decision event's position (None: the same decision was already on record)."""
    outcome: DecisionOutcome


def list_quarantined(
    settings: Settings, projection: str | None, stream_id: str | None, *, out: Out
) -> list[QuarantinedEvent]:
    return _on_database(
        settings, out, lambda conn: quarantine_ops.list_quarantined(conn, projection, stream_id)
    )


def act(
    settings: Settings,
    action: quarantine_ops.Action,
    projection: str,
    position: int,
    *,
    actor: str,
    reason: str,
    out: Out,
) -> Decided:
    """Skip the poison event at `position`, or retry its stream, through the command bus; then
    wait (briefly) for the projector to act on it, and say how it came out."""

    async def send(database_url: str) -> Decided:
        command: object = (
            SkipQuarantinedEvent(projection=projection, position=position, reason=reason)
            if action == "skip"
            else RetryQuarantinedEvents(projection=projection, position=position, reason=reason)
        )
        async with open_resources(settings, "command", database_url) as resources:
            services = resources.services
            result = await services.bus.dispatch(command, operator(actor, at=datetime.now(UTC)))
            stream_id = getattr(result, "stream_id", "")
            decided_at = result.position
            came = await quarantine_ops.outcome(
                services.store.pool,
                projection,
                stream_id,
                decided_at=decided_at or 0,
                within_s=OUTCOME_WAIT_S,
            )
        return Decided(
            projection=projection,
            stream_id=stream_id,
            action=action,
            position=position,
            decided_at=decided_at,
            outcome=came,
        )

    with servers(settings, log=out) as urls:
        return asyncio.run(send(urls.database_url))


def _on_database(
    settings: Settings, out: Out, job: Callable[[asyncpg.Connection], Awaitable[T]]
) -> T:
    async def run(database_url: str) -> T:
        conn = await asyncpg.connect(database_url)
        try:
            return await job(conn)
        finally:
            await conn.close()

    with servers(settings, log=out) as urls:
        return asyncio.run(run(urls.database_url))
