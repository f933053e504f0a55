"""The deliverer's attempts written together: one transaction for every attempt waiting.

Each worker (one per subscription) used to insert its attempt and wait for PostgreSQL to flush
it to disk before acknowledging the event and pulling the next: a disk flush per delivery. Here
an attempt joins the batch being gathered and its worker waits for that batch's commit, so
fifty workers share one transaction.

The commit does not wait for the flush (`synchronous_commit off`): the log says what happened
to deliveries, it decides nothing. A crash of PostgreSQL can lose its last few hundred
milliseconds of attempts; what was delivered, parked or disabled is kept elsewhere (the
consumer's acknowledgement in JetStream, and the events of `ParkDelivery` and
`DisableSubscription`).
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg

from adapters.outbound.attempts import INSERT, AttemptRow


class AttemptLog:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self._waiting: list[tuple[AttemptRow, asyncio.Future[None]]] = []
        self._writing: asyncio.Task[None] | None = None

    async def record(self, row: AttemptRow) -> None:
        """Return once `row` is committed (raises what the write raised)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # Retrieved even when the worker waiting for it was cancelled (a stop): no warning.
        future.add_done_callback(lambda done: done.cancelled() or done.exception())
        self._waiting.append((row, future))
        if self._writing is None or self._writing.done():
            self._writing = asyncio.create_task(self._write(), name="outbound-attempt-log")
        await asyncio.shield(future)

    async def close(self) -> None:
        """Let the last batch finish."""
        if self._writing is not None:
            with contextlib.suppress(Exception):
                await self._writing

    async def _write(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    await conn.execute("SET LOCAL synchronous_commit TO off")
                    await conn.executemany(INSERT, [row for row, _ in batch])
            except Exception as error:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for _, future in batch:
                if not future.done():
                    future.set_result(None)
