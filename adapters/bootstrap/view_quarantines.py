"""The command side's `Quarantines` port, answered from the projector's quarantine table."""

from __future__ import annotations

import asyncpg

from commands.ports import Poison
from projections import quarantine_ops


class ViewQuarantines:
    """Answers the `Quarantines` port from the projector's tables."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def known(self, projection: str) -> bool:
        return await quarantine_ops.served(self._pool, projection)

    async def poison_at(self, projection: str, position: int) -> Poison | None:
        found = await quarantine_ops.poison_at(self._pool, projection, position)
        return None if found is None else Poison(event_id=found.event_id, stream_id=found.stream_id)
