"""Rebuilds a projection from event 0 into `rm_<name>__next`, then swaps it in atomically."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from uuid import UUID

import asyncpg
import msgspec

from adapters.store.reader import head, read_range
from domain.envelope import EventEnvelope
from projections import checkpoints
from projections.checkpoints import check_name, old_schema, rebuild_key
from projections.projection import Projection, live_schema, next_schema
from projections.quarantine import STOP, apply_guarded, handled_by, on_error, reads
from projections.quarantine_sinks import MemorySink

REBUILD_BATCH = 5000
_LOST = (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError)


class RebuildReport(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    events: int
    """Events replayed: every position from 1 to `position`, read or skipped by type."""
    applied: int
    """Of those, the events of the types the projection reads."""
    position: int
    seconds: float
    quarantined: int = 0
    """Events set aside (poison and parked), now the live view's quarantine."""

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else float("inf")


class RebuildInProgress(RuntimeError):
    """Another session is rebuilding this projection."""


class RebuildFailed(RuntimeError):
    """The projection's `apply` raised on the event at `position` (a poison event), and its
    policy is to stop (`on_error = "stop"`); otherwise the event is quarantined."""

    def __init__(self, name: str, position: int, error: BaseException) -> None:
        self.position = position
        self.error = f"{type(error).__name__}: {error}"
        super().__init__(f"rebuilding {name} failed at event {position}: {self.error}")


async def rebuild(
    target: str | asyncpg.Pool | asyncpg.Connection,
    projection: Projection,
    *,
    batch_size: int = REBUILD_BATCH,
    progress: Callable[[int, int], None] | None = None,
) -> RebuildReport:
    """Replay every event into a fresh copy of the projection's tables, then swap it in.

    The live tables keep serving (and their owner keeps applying) until the swap, which happens
    in one transaction, so a query sees either the old complete view or the new complete one.
    A handler's error quarantines its stream as the live runtime does (unless the projection's
    policy is to stop); the quarantine found replaces the live one at the swap. Events an
    operator skipped for this projection version stay skipped. `progress`, if given, hears
    (position replayed, head) after each batch.
    """
    async with _connection(target) as conn:
        key = rebuild_key(check_name(projection.name))
        if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", key):
            raise RebuildInProgress(f"projection {projection.name} is already being rebuilt")
        try:
            return await _rebuild(conn, projection, batch_size, progress or _quiet)
        finally:
            # A lost connection has released the lock already.
            with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                await conn.execute("SELECT pg_advisory_unlock($1)", key)


def _quiet(done: int, total: int) -> None:
    pass


async def _rebuild(
    conn: asyncpg.Connection,
    projection: Projection,
    batch: int,
    progress: Callable[[int, int], None],
) -> RebuildReport:
    started = time.perf_counter()
    name = projection.name
    live, shadow, old = live_schema(name), next_schema(name), old_schema(name)
    await checkpoints.ensure(conn, projection)
    before = await conn.fetchval(
        "UPDATE projection_checkpoints c SET state = 'rebuilding', updated_at = now() "
        "FROM projection_checkpoints p WHERE c.name = $1 AND p.name = c.name RETURNING p.state",
        name,
    )
    before = "running" if before == "rebuilding" else before
    replay = _Replay(projection, None if on_error(projection) == STOP else MemorySink(name))
    replay.skipped = await _skipped(conn, projection)
    try:
        # A crash between a swap and its drop leaves an `__old` behind.
        await conn.execute(f"DROP SCHEMA IF EXISTS {old} CASCADE")
        async with conn.transaction():
            await conn.execute(f"DROP SCHEMA IF EXISTS {shadow} CASCADE")
            await conn.execute(f"CREATE SCHEMA {shadow}")
            await conn.execute(projection.ddl(shadow))
        position, applied = 0, 0
        while (top := await head(conn)) - position > batch:
            async with conn.transaction():
                # Losing these commits to a crash only means rebuilding again: skip the fsync.
                await conn.execute("SET LOCAL synchronous_commit = off")
                applied += await replay(conn, shadow, position, position + batch)
            position += batch
            progress(position, top)
        async with conn.transaction():
            # Waits for the live owner's batch in flight, then holds its next one at its
            # checkpoint update, which will find the position moved and roll back.
            await conn.execute(
                "SELECT 1 FROM projection_checkpoints WHERE name = $1 FOR UPDATE", name
            )
            top = await head(conn)
            for start in range(position, top, batch):
                applied += await replay(conn, shadow, start, min(start + batch, top))
                progress(min(start + batch, top), top)
            await _lock_tables(conn, live)
            await conn.execute(f"ALTER SCHEMA {live} RENAME TO {old}")
            await conn.execute(f"ALTER SCHEMA {shadow} RENAME TO {live}")
            if replay.sink is not None:
                await replay.sink.replace_live(conn)
            state = "running" if await _owned_elsewhere(conn, name) else "stopped"
            await conn.execute(
                "UPDATE projection_checkpoints SET position = $2, version = $3, state = $4, "
                "owner = CASE WHEN $4 = 'running' THEN owner END, error = NULL, "
                "error_position = NULL, updated_at = now() WHERE name = $1",
                name,
                top,
                projection.version,
                state,
            )
    except BaseException:
        # The live tables are untouched: they keep their state (a caller may mark it failed).
        with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
            await conn.execute(f"DROP SCHEMA IF EXISTS {shadow} CASCADE")
            await conn.execute(
                "UPDATE projection_checkpoints SET state = $2 WHERE name = $1 "
                "AND state = 'rebuilding'",
                name,
                before,
            )
        raise
    # Not inside the swap: dropping waits for readers of the old tables, and must not hold
    # the checkpoint row meanwhile.
    await conn.execute(f"DROP SCHEMA {old} CASCADE")
    progress(top, top)
    return RebuildReport(
        name=name,
        events=top,
        applied=applied,
        position=top,
        seconds=time.perf_counter() - started,
        quarantined=0 if replay.sink is None else len(replay.sink.rows),
    )


class _Replay:
    """Applies ranges of the feed to the shadow tables, guarded by the projection's policy."""

    def __init__(self, projection: Projection, sink: MemorySink | None) -> None:
        self.projection = projection
        self.sink = sink
        self.skipped: frozenset[UUID] = frozenset()

    async def __call__(self, conn: asyncpg.Connection, schema: str, after: int, upto: int) -> int:
        """Apply `(after, upto]` inside the caller's transaction; return how many applied."""
        events = await read_range(conn, after, upto, reads(self.projection))
        if self.sink is None:
            events = handled_by(self.projection, events)
        if self.skipped:
            events = [e for e in events if e.event_id not in self.skipped]
        if not events:
            return 0
        if self.sink is not None:
            return await apply_guarded(
                conn, self.projection, schema, events, self.sink, passthrough=_LOST
            )
        return await _replay_or_stop(conn, self.projection, schema, events)


async def _skipped(conn: asyncpg.Connection, projection: Projection) -> frozenset[UUID]:
    """The events an operator skipped for this projection at this version before skips were
    events (`projection_quarantine_actions`, kept for that history); a skip since is a
    `ProjectionEventSkipped` in the feed, which the replay acts on where it falls."""
    rows = await conn.fetch(
        "SELECT event_id FROM projection_quarantine_actions "
        "WHERE projection = $1 AND version = $2 AND action = 'skip'",
        projection.name,
        projection.version,
    )
    return frozenset(row["event_id"] for row in rows)


async def _replay_or_stop(
    conn: asyncpg.Connection, projection: Projection, schema: str, events: list[EventEnvelope]
) -> int:
    """Under the `stop` policy: apply the batch; on an error, find the poison event and stop."""
    try:
        async with conn.transaction():  # a savepoint
            await projection.apply(conn, schema, events)
    except _LOST:
        raise
    except Exception:
        for event in events:
            try:
                async with conn.transaction():
                    await projection.apply(conn, schema, [event])
            except _LOST:
                raise
            except Exception as error:
                raise RebuildFailed(projection.name, event.position, error) from error
    return len(events)


async def _lock_tables(conn: asyncpg.Connection, schema: str) -> None:
    """Lock the live tables, so a statement that named them before the rename waits, then
    resolves the names again and reads the new tables with a snapshot that sees the swap."""
    tables = await conn.fetchval(
        "SELECT string_agg(format('%I.%I', n.nspname, c.relname), ', ') FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')",
        schema,
    )
    if tables:
        await conn.execute(f"LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE")


async def _owned_elsewhere(conn: asyncpg.Connection, name: str) -> bool:
    key = checkpoints.owner_key(name)
    if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", key):
        return True
    # Taken (or re-entered, when the owner rebuilds itself; it claims again afterwards).
    await conn.execute("SELECT pg_advisory_unlock($1)", key)
    return False


@contextlib.asynccontextmanager
async def _connection(
    target: str | asyncpg.Pool | asyncpg.Connection,
) -> AsyncIterator[asyncpg.Connection]:
    if isinstance(target, str):
        conn = await asyncpg.connect(target)
        try:
            yield conn
        finally:
            await conn.close()
    elif isinstance(target, asyncpg.Pool):
        async with target.acquire() as conn:
            yield conn
    else:
        yield target
