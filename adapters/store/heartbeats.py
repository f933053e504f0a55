"""Runner liveness in PostgreSQL (`runner_heartbeats`): the heartbeat port, the reaper's reads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

_encoder = msgspec.json.Encoder()


class PgHeartbeats:
    """Implements `commands.ports.Heartbeats`; one row per watched runner, overwritten in place."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def beat(self, runner_id: UUID, at: datetime, jobs: Sequence[Mapping[str, Any]]) -> None:
        # GREATEST: a heartbeat that was slow to arrive never moves the moment back.
        await self._pool.execute(
            "INSERT INTO runner_heartbeats (runner_id, seen_at, jobs) VALUES ($1, $2, $3::jsonb) "
            "ON CONFLICT (runner_id) DO UPDATE SET seen_at = GREATEST("
            "runner_heartbeats.seen_at, EXCLUDED.seen_at), jobs = EXCLUDED.jobs",
            runner_id,
            at,
            _encoder.encode(list(jobs)).decode(),
        )

    async def forget(self, runner_id: UUID) -> None:
        await self._pool.execute("DELETE FROM runner_heartbeats WHERE runner_id = $1", runner_id)

    async def silent_since(self, cutoff: datetime) -> list[tuple[UUID, datetime]]:
        """Runners last heard from before `cutoff`, oldest first."""
        rows = await self._pool.fetch(
            "SELECT runner_id, seen_at FROM runner_heartbeats WHERE seen_at < $1 ORDER BY seen_at",
            cutoff,
        )
        return [(row["runner_id"], row["seen_at"]) for row in rows]

    async def forget_if_silent(self, runner_id: UUID, seen_at: datetime) -> None:
        """Stop watching a reaped runner, unless it spoke again meanwhile."""
        await self._pool.execute(
            "DELETE FROM runner_heartbeats WHERE runner_id = $1 AND seen_at = $2",
            runner_id,
            seen_at,
        )
