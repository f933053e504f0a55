"""What `flowledger projections quarantine list|retry|skip` runs, against the live views."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg

from adapters.bootstrap.roles import catalog
from adapters.platform.runtime import servers
from adapters.platform.settings import Settings
from projections import quarantine_ops
from projections.projection import Projection
from projections.quarantine_ops import ActionResult, QuarantinedEvent

T = TypeVar("T")
Out = Callable[[str], None]


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
    stream_id: str,
    *,
    actor: str,
    reason: str,
    out: Out,
) -> ActionResult:
    """Retry or skip one stream's quarantined events, with this process's projection code."""
    found = _projection(projection)
    run = quarantine_ops.retry if action == "retry" else quarantine_ops.skip
    return _on_database(
        settings, out, lambda conn: run(conn, found, stream_id, actor=actor, reason=reason)
    )


def _projection(name: str) -> Projection:
    found = {p.name: p for p in catalog()}
    if name not in found:
        known = ", ".join(sorted(found)) or "none"
        raise LookupError(f"no projection named {name!r} (known: {known})")
    return found[name]


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
