"""The sweeper: deletes expired artifacts and workspaces, evicts caches past the size limit.

Each removal goes to the object store first and is then recorded on the run that stored it
(`ArtifactDeleted`, `CacheEvicted`, with the reason): deleting an object twice is harmless,
recording a deletion that did not happen would not be. Every dispatcher sweeps; two sweeping
together record each removal once (the second record decides nothing or is refused).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

import asyncpg
from nats.js import JetStreamContext

from adapters.platform.periodic import every_until_stopped
from adapters.streaming.objects import ARTIFACTS_BUCKET, CACHES_BUCKET, bucket, delete
from commands.artifacts import SWEEPER, DeleteArtifact, EvictCache
from commands.context import CommandContext
from domain.errors import DomainError
from projections import artifacts
from projections.projection import live_schema

log = logging.getLogger(__name__)

SCHEMA = live_schema("artifacts")
BATCH = 200


class Sweeper:
    def __init__(
        self,
        dispatch: Callable[..., object],
        pool: asyncpg.Pool,
        js: JetStreamContext,
        *,
        cache_max_bytes: int,
        every_s: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._dispatch = dispatch
        self._pool = pool
        self._js = js
        self._cache_max_bytes = cache_max_bytes
        self._every_s = every_s
        self._clock = clock

    async def run(self, stop: asyncio.Event) -> None:
        await every_until_stopped(stop, self._every_s, self.sweep, log=log, name="sweeper")

    async def sweep(self) -> tuple[int, int]:
        """One round: (artifacts deleted, cache entries evicted)."""
        return await self.delete_expired(), await self.evict_caches()

    async def delete_expired(self) -> int:
        now = self._clock()
        rows = await artifacts.expired(self._pool, SCHEMA, now, BATCH)
        store = await bucket(self._js, ARTIFACTS_BUCKET) if rows else None
        for row in rows:
            assert store is not None
            await delete(store, row.object_key)
            reason = f"retention ended {row.expires_at.isoformat()}"
            command = DeleteArtifact(run_id=row.run_id, name=row.name, kind=row.kind,
                                     reason=reason)  # fmt: skip
            await self._record(command, f"sweep:{row.run_id}:{row.kind}:{row.name}")
        return len(rows)

    async def evict_caches(self) -> int:
        rows = await artifacts.over_limit(self._pool, SCHEMA, self._cache_max_bytes)
        store = await bucket(self._js, CACHES_BUCKET) if rows else None
        for row in rows:
            assert store is not None
            await delete(store, row.object_key)
            reason = (f"least recently used (last {row.last_used_at.isoformat()}) while the "
                      f"project's caches passed {self._cache_max_bytes} bytes")  # fmt: skip
            command = EvictCache(
                run_id=row.run_id, key=row.key, branch=row.branch, object_key=row.object_key,
                size=row.size, reason=reason,
            )  # fmt: skip
            await self._record(command, f"evict:{row.object_key}"[:500])
        return len(rows)

    async def _record(self, command: object, correlation: str) -> None:
        context = CommandContext(principal=SWEEPER, at=self._clock(), correlation_id=correlation)
        try:
            await self._dispatch(command, context)  # type: ignore[misc]
        except DomainError as error:
            log.info("sweeper: %s", error)
