"""One projector's idle checkpoint moves, sent together as one statement.

A commit of the store that holds nothing a projection reads still moves its checkpoint (so
that a reader waiting to see its own write there is not kept waiting): a statement per
projection per commit, about forty in the `projector` role, on as many connections. The
moves asked for in one turn of the loop go as one statement, on the connection of the first
projection that asked (it waits meanwhile, so its connection is idle). If that statement
fails, each projection moves its own checkpoint on its own connection, as before.
"""

from __future__ import annotations

import asyncio
import contextvars

import asyncpg

from projections import checkpoints

_Wanted = tuple[str, int, int, asyncio.Future[bool]]


class Skips:
    """`skip(conn, name, old, new)` as `checkpoints.skip` answers it, batched."""

    def __init__(self, channel: str) -> None:
        self._channel = channel
        self._waiting: list[_Wanted] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def skip(self, conn: asyncpg.Connection, name: str, old: int, new: int) -> bool:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((name, old, new, future))
        if len(self._waiting) == 1:
            # On the next turn of the loop, so that the moves asked for in this one go along;
            # in a context of its own, so no projection's span is the batch's.
            asyncio.get_running_loop().call_soon(self._send, conn, context=contextvars.Context())
        try:
            return await asyncio.shield(future)
        except Exception:  # the shared statement failed: this projection's own connection
            return await checkpoints.skip(conn, name, old, new, self._channel)

    def _send(self, conn: asyncpg.Connection) -> None:
        batch, self._waiting = self._waiting, []
        task = asyncio.get_running_loop().create_task(self._answer(conn, batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, conn: asyncpg.Connection, batch: list[_Wanted]) -> None:
        try:
            moved = await checkpoints.skip_many(
                conn, [(name, old, new) for name, old, new, _ in batch], self._channel
            )
        except BaseException as error:
            failure = error if isinstance(error, Exception) else ConnectionError("abandoned")
            for *_, future in batch:
                if not future.done():
                    future.set_exception(failure)
                    future.exception()  # retrieved: each moves its own instead
            if not isinstance(error, Exception):
                raise
            return
        for name, _, _, future in batch:
            if not future.done():
                future.set_result(name in moved)
