"""Reads of concurrent requests, taken together: what is asked for while a few queries are out
waits, then goes as one query.

No read is answered from a query sent before it was asked for: a batch is closed when its
query is sent, and what is asked for later waits for the next. So a read sees every commit
that came before it was asked for, as a query of its own would.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Ask = TypeVar("Ask")
Answer = TypeVar("Answer")


class ReadBatches(Generic[Ask, Answer]):
    """`read(ask)`, answered by `answer_all(asks)`: the answers to a batch, in the asks' order."""

    def __init__(
        self,
        answer_all: Callable[[Sequence[Ask]], Awaitable[Sequence[Answer]]],
        *,
        max_in_flight: int = 2,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be 1 or more, got {max_in_flight}")
        self._answer_all = answer_all
        self._max_in_flight = max_in_flight
        self._waiting: list[tuple[Ask, asyncio.Future[Answer]]] = []
        self._in_flight = 0
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.queries = 0
        """How many queries answered reads (a test's and a bench's figure)."""

    async def read(self, ask: Ask) -> Answer:
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._waiting.append((ask, future))
        self._schedule()
        return await future

    def _schedule(self) -> None:
        if self._waiting and not self._scheduled and self._in_flight < self._max_in_flight:
            self._scheduled = True
            # On the next turn of the loop, so that reads asked for in this one go along. Run
            # in a context of its own: no request's span or request id is the batch's.
            asyncio.get_running_loop().call_soon(self._send, context=contextvars.Context())

    def _send(self) -> None:
        self._scheduled = False
        batch = [wanted for wanted in self._waiting if not wanted[1].done()]
        self._waiting = []
        if not batch:
            return
        self._in_flight += 1
        task = asyncio.get_running_loop().create_task(self._answer(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, batch: Sequence[tuple[Ask, asyncio.Future[Answer]]]) -> None:
        try:
            self.queries += 1
            answers = await self._answer_all([ask for ask, _ in batch])
        except Exception as error:  # each reader gets it, as from a query of its own
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        except BaseException:
            for _, future in batch:
                future.cancel()
            raise
        finally:
            self._in_flight -= 1
            self._schedule()
        for (_, future), answer in zip(batch, answers, strict=True):
            if not future.done():
                future.set_result(answer)
