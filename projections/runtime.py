"""The projector: keeps every projection's tables in step with the event feed, one owner each."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Sequence

import asyncpg

from adapters.store.locks import SESSION_KEEPALIVES, while_linked
from adapters.store.notifier import HeadWatcher
from adapters.store.reader import head
from projections import checkpoints
from projections.batches import LOST, ApplyFailed, Batches, Moved
from projections.pacing import close_quietly, pause, wait_for_reads
from projections.progress import Progress
from projections.projection import Projection, unread_by_all
from projections.quarantine import reads
from projections.rebuild import RebuildFailed, rebuild
from projections.recent_feed import RecentFeed

log = logging.getLogger(__name__)

LIVE_BATCH = 500
RETRY_S = 1.0
IDLE_S = 5.0
STOP_GRACE_S = 10.0
VIEWS_LINGER_S = 0.02
"""How long the `projector` role's views wait, once woken from idle, for more commits to
join the batch (`Projector`'s `linger_s`)."""
COMMAND_TIMEOUT_S = 120.0
"""Every statement of a projector's session is bounded: a socket that died in silence (a
server gone without a reset, a partition) becomes a reconnect instead of a stall. Generous,
since a rebuild shares the session and its swap may wait for readers of the old tables."""


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Projector:
    """Serves each given projection this process manages to own, until `stop` is set.

    Usage: ``await Projector(url, catalog.ALL).run(stop)``
    """

    def __init__(
        self,
        database_url: str,
        projections: Sequence[Projection],
        *,
        owner: str | None = None,
        batch_size: int = LIVE_BATCH,
        retry_s: float = RETRY_S,
        idle_s: float = IDLE_S,
        linger_s: float = 0.0,
    ) -> None:
        """`linger_s`: once a projection caught up is woken by a commit, it waits that long
        before it reads, so that the commits landing meanwhile go in the same batch (one
        transaction and checkpoint move for several). A projection's own `linger_s`
        attribute, if it has one, is used instead."""
        names = [checkpoints.check_name(p.name) for p in projections]
        if len(set(names)) != len(names):
            raise ValueError(f"projection names must be unique: {names}")
        self._url = database_url
        self._projections = tuple(projections)
        self.owner = owner or default_owner()
        self._batch = batch_size
        self._retry_s = retry_s
        self._idle_s = idle_s
        self._linger_s = linger_s
        self.feed = RecentFeed(
            frozenset().union(*(reads(p) for p in self._projections)),
            unread=unread_by_all(self._projections),
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Returns only once `stop` is set, even if every projection has failed meanwhile."""
        if not await self._until_reachable(stop):
            return
        watcher = HeadWatcher(self._url)
        await watcher.start()
        tasks = [
            asyncio.create_task(self._serve(p, stop, watcher), name=f"projector-{p.name}")
            for p in self._projections
        ]
        try:
            await stop.wait()
            if tasks:
                await asyncio.wait(tasks, timeout=STOP_GRACE_S)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await watcher.stop()

    async def _until_reachable(self, stop: asyncio.Event) -> bool:
        """Wait, with back-off, for the database (False: stopped first)."""
        delay = self._retry_s
        while True:
            try:
                conn = await asyncpg.connect(self._url, timeout=10)
            except LOST as error:
                log.warning("projector: %s; retrying in %.0fs", error, delay)
                if await pause(stop, delay):
                    return False
                delay = min(delay * 2, 10.0)
                continue
            try:
                # Unmigrated: fail loudly now rather than log the same error forever.
                await conn.execute("SELECT 1 FROM projection_checkpoints LIMIT 1")
                return True
            finally:
                await close_quietly(conn)

    async def _serve(
        self, projection: Projection, stop: asyncio.Event, watcher: HeadWatcher
    ) -> None:
        """Compete for the projection's lock; serve it while held; start over if the link drops."""
        key = checkpoints.owner_key(projection.name)
        delay = self._retry_s
        while not stop.is_set():
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(
                    self._url,
                    timeout=10,
                    command_timeout=COMMAND_TIMEOUT_S,
                    server_settings=SESSION_KEEPALIVES,
                )
                # The lock lives as long as this session: if this process dies, it is free.
                take = "SELECT pg_try_advisory_lock($1)"
                while not await while_linked(conn, conn.fetchval(take, key)):
                    if await pause(stop, self._retry_s):
                        return
                delay = self._retry_s
                # A query left hanging on a closed link would stall the view in silence.
                if await while_linked(conn, self._own(conn, projection, stop, watcher)):
                    return
            except LOST as error:
                log.warning("projection %s: %s; retrying in %.0fs", projection.name, error, delay)
            except Exception as error:
                log.exception("projection %s stopped on an unexpected error", projection.name)
                if conn is not None:
                    with contextlib.suppress(Exception):
                        text = f"{type(error).__name__}: {error}"
                        await checkpoints.mark_failed(conn, projection, text, None)
                return
            finally:
                if conn is not None:
                    await close_quietly(conn)
            if await pause(stop, delay):
                return
            delay = min(delay * 2, 10.0)

    async def _own(
        self,
        conn: asyncpg.Connection,
        projection: Projection,
        stop: asyncio.Event,
        watcher: HeadWatcher,
    ) -> bool:
        """Serve until stopped (True) or until the tables change hands (False: claim again)."""
        name = projection.name
        await checkpoints.ensure(conn, projection)
        row = await checkpoints.claim(conn, name, self.owner, reads(projection))
        if row["version"] > projection.version:
            log.warning(
                "projection %s: version %d is built, this process has %d; leaving it to others",
                name,
                row["version"],
                projection.version,
            )
            await checkpoints.release(conn, name, self.owner)
            return True
        if row["version"] < projection.version:
            log.info("projection %s: rebuilding for version %d", name, projection.version)
            try:
                report = await rebuild(conn, projection)
            except RebuildFailed as failed:
                await checkpoints.mark_failed(conn, projection, failed.error, failed.position)
                log.error("projection %s stopped: %s", name, failed, exc_info=failed.__cause__)
                return True
            log.info(
                "projection %s: rebuilt %d events in %.1fs", name, report.events, report.seconds
            )
            await conn.reload_schema_state()
            row = await checkpoints.claim(conn, name, self.owner, reads(projection))
        at = Progress(row["position"])
        log.info("projection %s: %s serves it from position %d", name, self.owner, at.position)
        types, batches = reads(projection), Batches(conn, projection, self.feed)
        linger_s = lingers(projection, self._linger_s)
        while not stop.is_set():
            top = watcher.head
            try:
                if top <= at.position:
                    heard = await wait_for_reads(
                        watcher, at.position, types, stop, self._wait_s(at)
                    )
                    if at.due():
                        await batches.save(at)
                    # The notifications are the news; the table is asked only when they have
                    # been quiet for a while (one may have been lost).
                    top = watcher.head if heard else await head(conn)
                    if top <= at.position:
                        continue
                    if linger_s > 0:
                        if await pause(stop, linger_s):
                            continue
                        top = watcher.head
                if watcher.commits.holds_any(at.position, top, types) is False:
                    at.passed(top)
                else:
                    await batches.step(at, min(at.position + self._batch, top))
                if at.due():
                    await batches.save(at)
            except Moved:
                await conn.reload_schema_state()
                row = await conn.fetchrow(
                    "SELECT version, position FROM projection_checkpoints WHERE name = $1", name
                )
                if row["version"] != projection.version:
                    return False
                # A rebuild's swap also replaced the view's quarantine.
                at, batches = Progress(row["position"]), Batches(conn, projection, self.feed)
            except ApplyFailed:
                return True
        if at.unsaved():
            with contextlib.suppress(Moved):
                await batches.save(at)
        await checkpoints.release(conn, name, self.owner)
        return True

    def _wait_s(self, at: Progress) -> float:
        return min(self._idle_s, at.until_due()) if at.unsaved() else self._idle_s


def lingers(projection: Projection, default_s: float) -> float:
    """How long `projection` waits for more commits once woken from idle (its `linger_s`
    attribute, else the projector's)."""
    own = getattr(projection, "linger_s", None)
    return float(own) if isinstance(own, int | float) else default_s
