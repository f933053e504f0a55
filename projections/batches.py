"""Applying a range of the feed to one projection: its rows and its checkpoint in one
transaction, a handler's error quarantined (or, under `stop`, the view stopped at it)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence

import asyncpg

from adapters.store.reader import read_range
from adapters.telemetry.tracing import links_to, span
from domain.envelope import EventEnvelope
from domain.projection_quarantine import DECISIONS
from projections import checkpoints
from projections.erased_actors import ERASURE
from projections.progress import Progress
from projections.projection import Projection, live_schema
from projections.quarantine import STOP, apply_guarded, error_text, handled_by, on_error, reads
from projections.quarantine_sinks import TableSink
from projections.rebuild import RebuildInProgress
from projections.recent_feed import RecentFeed

log = logging.getLogger(__name__)

# The connection is gone (and with it the lock): connect again and compete for ownership.
LOST = (
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
TRANSIENT = (
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
    asyncpg.InvalidCachedStatementError,
    asyncpg.exceptions.OutdatedSchemaCacheError,
)


class Moved(Exception):
    """The checkpoint is not where this owner left it: a rebuild swapped the tables."""


class ApplyFailed(Exception):
    """The projection's `apply` raised (the cause)."""


class _Guard(Exception):
    """A batch applied plainly failed: its transaction is rolled back, to go again guarded."""


def writes_elsewhere(projection: Projection) -> bool:
    """Whether the projection declares `writes_elsewhere = True`: its `apply` writes nothing
    through the runtime's connection, only through appends of its own that are idempotent (a
    process manager such as the webhook intake), so its batches need no transaction."""
    return getattr(projection, "writes_elsewhere", False) is True


def nothing_to_apply(projection: Projection, events: Sequence[EventEnvelope]) -> bool:
    """Whether the projection says (`applies_nothing`) that no event of the batch changes it;
    an operator's decision about its quarantine always does."""
    idle = getattr(projection, "applies_nothing", None)
    return idle is not None and all(e.type not in DECISIONS and idle(e) for e in events)


class Batches:
    """Applies ranges of the feed to `projection` over its owner's connection."""

    def __init__(
        self, conn: asyncpg.Connection, projection: Projection, feed: RecentFeed | None = None
    ) -> None:
        self._conn = conn
        self._projection = projection
        self._feed = feed
        self._stops = on_error(projection) == STOP
        self._quarantined: bool | None = None
        """Whether the view holds quarantined events (None: ask)."""

    async def step(self, at: Progress, upto: int) -> None:
        """Apply `(at.position, upto]` and move `at` past it (unmoved after a transient error)."""
        conn, projection = self._conn, self._projection
        if self._feed is None:
            events = await read_range(conn, at.position, upto, reads(projection))
        else:
            events = await self._feed.read(conn, at.position, upto, reads(projection))
        if self._stops:
            # Decisions are about quarantines, which a view that stops does not keep.
            events = handled_by(projection, events)
        if not events:
            # Nothing this projection reads: the checkpoint moves later, with others.
            at.passed(upto)
            return
        if nothing_to_apply(projection, events) and await self._plain(events):
            # Events it reads, none of which changes its rows (a run that deploys nowhere, to
            # the environments view): the row moves now, as waiters count it behind them, but
            # in one statement instead of a transaction's three round trips.
            if not await checkpoints.skip(conn, projection.name, at.stored, upto):
                raise Moved
            at.stored_at(upto)
            return
        try:
            ahead = getattr(projection, "before_batch", None)
            if ahead is not None:
                await ahead(events)
            await self._commit(events, at.stored, upto)
        except TRANSIENT as error:
            log.warning("projection %s: %s; retrying the batch", projection.name, error)
            await conn.reload_schema_state()
            return
        except ApplyFailed:
            at.stored_at(await self._isolate(events, at.stored))
            return
        at.stored_at(upto)

    async def save(self, at: Progress) -> None:
        """Move the checkpoint row to `at.position`: a statement of its own, no transaction,
        no wait for the disk (`checkpoints.skip`)."""
        name = self._projection.name
        if not await checkpoints.skip(self._conn, name, at.stored, at.position):
            raise Moved
        at.stored_at(at.position)

    async def _commit(self, events: Sequence[EventEnvelope], old: int, upto: int) -> None:
        name = self._projection.name
        with span(
            f"projector batch {name}",
            attributes={"flowledger.projection": name, "flowledger.events": len(events)},
            links=links_to(event.metadata.traceparent for event in events),
        ):
            with contextlib.suppress(_Guard):
                elsewhere = writes_elsewhere(self._projection)
                if elsewhere and (self._stops or await self._plain(events)):
                    await self._apply_then_skip(events, old, upto)
                else:
                    await self._commit_batch(events, old, upto, guarded=False)
                return
            # Outside a handler, so what the guard logs is not chained to the first try.
            await self._commit_batch(events, old, upto, guarded=True)

    async def _apply_then_skip(self, events: Sequence[EventEnvelope], old: int, upto: int) -> None:
        """A projection that writes elsewhere (`writes_elsewhere`): the batch applied outside
        any transaction, then the checkpoint moved by `checkpoints.skip`, one statement whose
        commit does not wait for the disk. What the batch wrote is already durable and
        replaying it writes nothing twice, so a crash that takes the move back costs a replay.
        In a transaction it was three round trips (BEGIN, the move, COMMIT) and a flush to wait
        for, on every batch."""
        await self._apply(events)
        if not await checkpoints.skip(self._conn, self._projection.name, old, upto):
            raise Moved  # applied anyway, which a replay does too: nothing written twice

    async def _commit_batch(
        self, events: Sequence[EventEnvelope], old: int, upto: int, *, guarded: bool
    ) -> None:
        conn, projection = self._conn, self._projection
        name = projection.name
        # The batch's rows and its checkpoint commit together, so a PostgreSQL crash that takes
        # back a commit not yet flushed takes back both: the batch is read and applied again, as
        # after a crash before its commit. Waiting for the flush cost the backend about 180 us
        # of CPU per batch and view (its fdatasync). An erasure's batch waits: once it is seen
        # applied, no crash brings the erased values back into the view.
        wait_for_disk = any(e.type == ERASURE for e in events)
        if self._stops or (not guarded and await self._plain(events)):
            # Under `stop`, or with nothing set aside and no decision in it: the batch as it
            # is, without the guard's statements (the quarantine lookup, a savepoint and its
            # release). A failure stops the view, or sends the batch again guarded.
            await self._commit_plain(events, old, upto, wait_for_disk=wait_for_disk)
            return
        async with conn.transaction():
            # First, so a rebuild's swap holding the row stops this batch before it writes.
            if not await checkpoints.advance(conn, name, old, upto, wait_for_disk=wait_for_disk):
                raise Moved
            # A handler's error quarantines its event's stream; the checkpoint moves on.
            self._quarantined = None
            await apply_guarded(
                conn,
                projection,
                live_schema(name),
                events,
                TableSink(name),
                passthrough=(*LOST, *TRANSIENT),
            )

    async def _commit_plain(
        self, events: Sequence[EventEnvelope], old: int, upto: int, *, wait_for_disk: bool
    ) -> None:
        """The batch in a transaction opened with its checkpoint's move in one round trip
        (`checkpoints.begin_advancing`), where BEGIN was one of its own."""
        conn, projection = self._conn, self._projection
        try:
            # First, so a rebuild's swap holding the row stops this batch before it writes.
            if not await checkpoints.begin_advancing(
                conn, projection.name, old, upto, wait_for_disk=wait_for_disk
            ):
                raise Moved
            await self._apply(events)
        except BaseException:
            await checkpoints.roll_back(conn)
            raise
        await conn.execute("COMMIT")

    async def _apply(self, events: Sequence[EventEnvelope]) -> None:
        """The projection's `apply`; its own error raised as `ApplyFailed` (under `stop`) or
        as `_Guard` (to go again guarded), a lost link or a transient error as it is."""
        projection = self._projection
        try:
            await projection.apply(self._conn, live_schema(projection.name), events)
        except (*LOST, *TRANSIENT):
            raise
        except Exception as error:
            raise (ApplyFailed if self._stops else _Guard) from error

    async def _plain(self, events: Sequence[EventEnvelope]) -> bool:
        """Whether the batch may skip the guard: no event of it is an operator's decision
        about a quarantine, and the view holds none (asked once, then after each guarded
        batch: only those, and a rebuild's swap, change it)."""
        if any(e.type in DECISIONS for e in events):
            return False
        if self._quarantined is None:
            self._quarantined = await self._conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM projection_quarantine WHERE projection = $1)",
                self._projection.name,
            )
        return not self._quarantined

    async def _isolate(self, events: Sequence[EventEnvelope], old: int) -> int:
        """Under the `stop` policy: apply a failed batch one event at a time, to stop exactly at
        the poison event (the events before it are applied)."""
        projection = self._projection
        for event in events:
            try:
                await self._commit([event], old, event.position)
            except ApplyFailed as failed:
                error = failed.__cause__
                text = error_text(error)
                await checkpoints.mark_failed(self._conn, projection, text, event.position)
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
            old = event.position
        return old  # each passed alone: the rest of the range is read again
