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
from adapters.store.reader import head, read_range
from adapters.telemetry.tracing import links_to, span
from domain.envelope import EventEnvelope
from projections import checkpoints
from projections.pacing import close_quietly, pause, wait_for_events
from projections.projection import Projection, live_schema
from projections.quarantine import (
    STOP,
    apply_guarded,
    error_text,
    handled_by,
    on_error,
    reads,
)
from projections.quarantine_sinks import TableSink
from projections.rebuild import NOTIFY_CHANNEL, RebuildFailed, RebuildInProgress, rebuild

log = logging.getLogger(__name__)

LIVE_BATCH = 500
RETRY_S = 1.0
IDLE_S = 5.0
STOP_GRACE_S = 10.0
COMMAND_TIMEOUT_S = 120.0
"""Every statement of a projector's session is bounded: a socket that died in silence (a
server gone without a reset, a partition) becomes a reconnect instead of a stall. Generous,
since a rebuild shares the session and its swap may wait for readers of the old tables."""

# The connection is gone (and with it the lock): connect again and compete for ownership.
_LOST = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    # asyncpg's own protocol state after the server vanished mid-query (seen on a kill -9):
    # the link's fault, never an event's.
    asyncpg.InternalClientError,
    RebuildInProgress,
)
# Worth the same batch again: not the handler's fault. A cached plan goes stale when a
# rebuild swaps the schemas under the connection.
_TRANSIENT = (
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
    asyncpg.InvalidCachedStatementError,
    asyncpg.exceptions.OutdatedSchemaCacheError,
)


class _Moved(Exception):
    """The checkpoint is not where this owner left it: a rebuild swapped the tables."""


class _ApplyFailed(Exception):
    """The projection's `apply` raised (the cause)."""


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
    ) -> None:
        names = [checkpoints.check_name(p.name) for p in projections]
        if len(set(names)) != len(names):
            raise ValueError(f"projection names must be unique: {names}")
        self._url = database_url
        self._projections = tuple(projections)
        self._stops = {p.name for p in projections if on_error(p) == STOP}
        self.owner = owner or default_owner()
        self._batch = batch_size
        self._retry_s = retry_s
        self._idle_s = idle_s

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
            except _LOST as error:
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
            except _LOST as error:
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
        row = await checkpoints.claim(conn, name, self.owner)
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
            row = await checkpoints.claim(conn, name, self.owner)
        position = row["position"]
        log.info("projection %s: %s serves it from position %d", name, self.owner, position)
        while not stop.is_set():
            # The watcher's head comes from the commits' notifications; the table is asked
            # only when it has nothing new (a notification may have been lost).
            top = watcher.head if watcher.head > position else await head(conn)
            if top <= position:
                await wait_for_events(watcher, position, stop, self._idle_s)
                continue
            try:
                position = await self._step(
                    conn, projection, position, min(position + self._batch, top)
                )
            except _Moved:
                await conn.reload_schema_state()
                row = await conn.fetchrow(
                    "SELECT version, position FROM projection_checkpoints WHERE name = $1", name
                )
                if row["version"] != projection.version:
                    return False
                position = row["position"]
            except _ApplyFailed:
                return True
        await checkpoints.release(conn, name, self.owner)
        return True

    async def _step(
        self, conn: asyncpg.Connection, projection: Projection, position: int, upto: int
    ) -> int:
        """Apply `(position, upto]`; return the new checkpoint (unmoved after a transient error)."""
        events = await read_range(conn, position, upto, reads(projection))
        if projection.name in self._stops:
            # Decisions are about quarantines, which a view that stops does not keep.
            events = handled_by(projection, events)
        try:
            if not events:
                # Nothing this projection reads (most batches, for most projections): one
                # statement, no transaction, no wait for the disk.
                if not await checkpoints.skip(
                    conn, projection.name, position, upto, NOTIFY_CHANNEL
                ):
                    raise _Moved
                return upto
            ahead = getattr(projection, "before_batch", None)
            if ahead is not None:
                await ahead(events)
            await self._commit(conn, projection, events, position, upto)
        except _TRANSIENT as error:
            log.warning("projection %s: %s; retrying the batch", projection.name, error)
            await conn.reload_schema_state()
            return position
        except _ApplyFailed:
            return await self._isolate(conn, projection, events, position)
        return upto

    async def _commit(
        self,
        conn: asyncpg.Connection,
        projection: Projection,
        events: Sequence[EventEnvelope],
        position: int,
        upto: int,
    ) -> None:
        name = projection.name
        with span(
            f"projector batch {name}",
            attributes={"flowledger.projection": name, "flowledger.events": len(events)},
            links=links_to(event.metadata.traceparent for event in events),
        ):
            await self._commit_batch(conn, projection, events, position, upto)

    async def _commit_batch(
        self,
        conn: asyncpg.Connection,
        projection: Projection,
        events: Sequence[EventEnvelope],
        position: int,
        upto: int,
    ) -> None:
        name = projection.name
        async with conn.transaction():
            # First, so a rebuild's swap holding the row stops this batch before it writes.
            if not await checkpoints.advance(conn, name, position, upto, NOTIFY_CHANNEL):
                raise _Moved
            if name not in self._stops:
                # A handler's error quarantines its event's stream; the checkpoint moves on.
                await apply_guarded(
                    conn,
                    projection,
                    live_schema(name),
                    events,
                    TableSink(name),
                    passthrough=(*_LOST, *_TRANSIENT),
                )
                return
            try:
                await projection.apply(conn, live_schema(name), events)
            except (*_LOST, *_TRANSIENT):
                raise
            except Exception as error:
                raise _ApplyFailed from error

    async def _isolate(
        self,
        conn: asyncpg.Connection,
        projection: Projection,
        events: Sequence[EventEnvelope],
        position: int,
    ) -> int:
        """Under the `stop` policy: apply a failed batch one event at a time, to stop exactly at
        the poison event (the events before it are applied)."""
        for event in events:
            try:
                await self._commit(conn, projection, [event], position, event.position)
            except _ApplyFailed as failed:
                error = failed.__cause__
                text = error_text(error)
                await checkpoints.mark_failed(conn, projection, text, event.position)
                log.error(
                    "projection %s stopped at event %d (%s of %s): %s",
                    projection.name,
                    event.position,
                    event.type,
                    event.stream_id,
                    text,
                    exc_info=error,
                )
                raise
            position = event.position
        return position  # each passed alone: the rest of the range is read again
