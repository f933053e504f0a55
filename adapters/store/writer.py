"""Group commit: concurrent appends share one transaction and one WAL flush.

Callers enqueue prepared appends; a few flusher tasks each take everything waiting and run
it as one `append_batch` call on their own connection. With two flushers, one batch collects
while the other commits; the database serialises them on the position row, so global order
stays commit order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence

import asyncpg

from adapters.store.append_batch import (
    APPEND_BATCH,
    FIND_EVENTS,
    AppendResult,
    PendingAppend,
    batch_arguments,
    settle,
    settle_found,
)
from adapters.store.errors import (
    AppendOutcomeUnknown,
    EventStoreError,
    InvalidAppend,
    StoreUnavailable,
)
from adapters.store.idle_flushers import IdleFlushers
from adapters.store.lost_connections import CONNECTION_ERRORS, dropping_broken
from adapters.telemetry.metrics import APPEND_BATCH_SIZE

log = logging.getLogger(__name__)


# How long a flusher keeps its connection with nothing to flush.
_KEEP_CONNECTION_IDLE_S = 0.005


class GroupCommitWriter:
    def __init__(
        self,
        connect: asyncpg.Pool,
        *,
        flushers: int = 2,
        max_batch_events: int = 2000,
        max_attempts: int = 3,
        reconnect_timeout: float = 10.0,
    ) -> None:
        self._pool = connect
        self._waiting: deque[PendingAppend] = deque()
        self._idle = IdleFlushers()
        self._flusher_count = flushers
        self._max_batch_events = max_batch_events
        self._max_attempts = max_attempts
        self._reconnect_timeout = reconnect_timeout
        self._tasks: list[asyncio.Task[None]] = []
        # Streams and keys of the batches being flushed: a later append to one of them waits
        # for that flush, or a second flusher could judge it before the first append commits.
        self._busy_streams: set[str] = set()
        self._busy_keys: set[str] = set()

    def start(self) -> None:
        for n in range(self._flusher_count):
            self._tasks.append(
                asyncio.create_task(self._flush_forever(), name=f"event-store-flusher-{n}")
            )

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        while self._waiting:
            pending = self._waiting.popleft()
            if not pending.future.done():
                pending.future.set_exception(
                    StoreUnavailable("the event store closed; nothing was written")
                )

    async def submit(self, pending: PendingAppend) -> AppendResult:
        if not self._tasks:
            raise StoreUnavailable("the event store is not open")
        self._enqueue(pending)
        return await pending.future

    async def submit_many(
        self, pendings: Sequence[PendingAppend]
    ) -> list[AppendResult | EventStoreError]:
        """All at once, so the flushers take them together; each one's result or error."""
        if not self._tasks:
            raise StoreUnavailable("the event store is not open")
        self._waiting.extend(pendings)
        self._idle.wake_one()
        outcomes = await asyncio.gather(*(p.future for p in pendings), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException) and not isinstance(outcome, EventStoreError):
                raise outcome
        return outcomes  # type: ignore[return-value]  (the non-store errors were raised)

    def _enqueue(self, pending: PendingAppend) -> None:
        self._waiting.append(pending)
        self._idle.wake_one()

    async def _flush_forever(self) -> None:
        # The connection is kept while batches follow one another closely (a closed loop of
        # writers resubmits within a millisecond or two of its answers): a pool acquire and
        # release per batch cost about 40 us of the event loop's time, every batch.
        conn: asyncpg.Connection | None = None
        try:
            while True:
                batch = self._take_batch()
                if not batch:
                    # Nothing waiting, or only appends behind a batch in flight: its end wakes
                    # a flusher.
                    if conn is not None and not await self._idle.wait(_KEEP_CONNECTION_IDLE_S):
                        await self._pool.release(conn)
                        conn = None
                    elif conn is None:
                        await self._idle.wait()
                    continue
                try:
                    conn = await self._flush_on(conn, batch)
                except Exception as error:
                    # A dead flusher would leave its callers waiting forever: fail them instead.
                    log.exception("event store: an append batch of %d failed", len(batch))
                    _fail(batch, EventStoreError(f"append failed: {error!r}"))
                finally:
                    self._release(batch)
        finally:
            if conn is not None:
                with contextlib.suppress(Exception):
                    await self._pool.release(conn)

    async def _flush_on(
        self, conn: asyncpg.Connection | None, batch: list[PendingAppend]
    ) -> asyncpg.Connection | None:
        """Flushes `batch` on `conn` (acquired if None); the connection to keep, None if lost."""
        if conn is None:
            try:
                conn = await self._pool.acquire()
            except CONNECTION_ERRORS as error:
                log.warning("event store unreachable for an append of %d: %s", len(batch), error)
                await self._resolve_after_connection_loss(batch)
                return None
        if await self._flush(conn, batch):
            return conn
        # terminated by dropping_broken: the pool opens a fresh one in its place
        with contextlib.suppress(Exception):
            await self._pool.release(conn)
        return None

    def _release(self, batch: list[PendingAppend]) -> None:
        for pending in batch:
            self._busy_streams.discard(pending.stream_id)
            if pending.idempotency_key is not None:
                self._busy_keys.discard(pending.idempotency_key)
        if self._waiting:
            self._idle.wake_one()

    def _take_batch(self) -> list[PendingAppend]:
        """Everything waiting; a stream or key already in this batch or one in flight waits."""
        batch: list[PendingAppend] = []
        deferred: list[PendingAppend] = []
        streams, keys = self._busy_streams, self._busy_keys
        size = 0
        while self._waiting and size < self._max_batch_events:
            pending = self._waiting.popleft()
            if pending.future.done():
                continue
            key = pending.idempotency_key
            if pending.stream_id in streams or (key is not None and key in keys):
                deferred.append(pending)
                continue
            streams.add(pending.stream_id)
            if key is not None:
                keys.add(key)
            batch.append(pending)
            size += len(pending.events)
        self._waiting.extendleft(reversed(deferred))
        if size >= self._max_batch_events and self._waiting:
            # more than one batch's worth: another flusher takes the rest meanwhile (appends
            # held back behind a batch in flight wait for its end, which wakes a flusher)
            self._idle.wake_one()
        return batch

    async def _flush(self, conn: asyncpg.Connection, batch: list[PendingAppend]) -> bool:
        """One `append_batch` call on `conn`; False if the connection was lost."""
        try:
            rows = await dropping_broken(conn, conn.fetch(APPEND_BATCH, *batch_arguments(batch)))
        except CONNECTION_ERRORS as error:
            log.warning("event store connection lost during an append of %d: %s", len(batch), error)
            await self._resolve_after_connection_loss(batch)
            return False
        except asyncpg.PostgresError as error:
            if len(batch) > 1:
                # One bad append must not sink its neighbours: retry them one by one.
                for n, pending in enumerate(batch):
                    if not await self._flush(conn, [pending]):
                        # the rest go first in the queue, for a flusher with a live connection
                        self._waiting.extendleft(reversed(batch[n + 1 :]))
                        return False
                return True
            batch[0].future.set_exception(
                InvalidAppend(f"the database rejected the append: {error}")
            )
            return True
        except Exception as error:  # the flusher must survive whatever one batch does
            _fail(batch, EventStoreError(f"append failed: {error!r}"))
            return True
        APPEND_BATCH_SIZE.observe(sum(len(pending.events) for pending in batch))
        for pending, row in zip(batch, rows, strict=True):
            settle(pending, row)
        return True

    async def _resolve_after_connection_loss(self, batch: list[PendingAppend]) -> None:
        """Find out, append by append, whether the lost batch committed."""
        deadline = asyncio.get_running_loop().time() + self._reconnect_timeout
        while True:
            try:
                async with self._pool.acquire(timeout=2.0) as conn:
                    for pending in batch:
                        await dropping_broken(conn, self._resolve_one(conn, pending))
                return
            except CONNECTION_ERRORS as error:
                if asyncio.get_running_loop().time() >= deadline:
                    for pending in batch:
                        if not pending.future.done():
                            pending.future.set_exception(
                                AppendOutcomeUnknown(
                                    "the database went away during the append and could not be "
                                    f"reached to check whether it committed ({error}); retry with "
                                    "the same idempotency key"
                                )
                            )
                    return
                await asyncio.sleep(0.2)

    async def _resolve_one(self, conn: asyncpg.Connection, pending: PendingAppend) -> None:
        if pending.future.done():
            return
        ids = [e.event_id for e in pending.events]
        if settle_found(pending, await conn.fetch(FIND_EVENTS, ids)):
            return
        pending.attempts += 1
        if pending.attempts >= self._max_attempts:
            pending.future.set_exception(
                StoreUnavailable(
                    f"the database connection was lost {pending.attempts} times; "
                    "nothing was written"
                )
            )
            return
        self._enqueue(pending)


def _fail(batch: Sequence[PendingAppend], error: Exception) -> None:
    for pending in batch:
        if not pending.future.done():
            pending.future.set_exception(error)
