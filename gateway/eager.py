"""Run a coroutine at once, in the caller's turn, for as long as it does not have to wait.

A WebSocket send into a socket whose buffer has room never waits. Handed to a task, it costs a
wake-up and a turn of the event loop per client per message, more than the send itself (on the
fan-out bench, ~28 µs of the gateway's CPU per send through a queue and a task, ~20 µs sent at
once). Python 3.12's eager tasks do this; on 3.11 the coroutine is stepped here, and what has
to wait goes on in a task exactly as it would have in one from the start. One difference:
until its first wait, `asyncio.current_task()` is the caller's, so nothing run this way may
start `asyncio.timeout` before waiting (litestar's and uvicorn's sends do not).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine
from typing import Any


def start(coro: Coroutine[Any, Any, None]) -> asyncio.Task[None] | None:
    """Run `coro` up to its first wait: None if it finished (an exception it raised is raised
    here), else the task that carries it on from there."""
    # Its own copy of the context, as a task would have: nothing it sets leaks to the caller.
    context = contextvars.copy_context()
    try:
        waiting_on = context.run(coro.send, None)
    except StopIteration:
        return None
    carried = _carry_on(coro, waiting_on)
    return asyncio.get_running_loop().create_task(carried, context=context)


async def _carry_on(coro: Coroutine[Any, Any, None], waiting_on: Any) -> None:
    """Go on with `coro`, suspended on `waiting_on`, as asyncio's task step would: wait for
    what it yielded, resume it; cancelled, cancel what it waits on (else throw the cancel in)."""
    throw: BaseException | None = None
    while True:
        try:
            if waiting_on is None:  # a bare yield (asyncio.sleep(0)): one turn of the loop
                await asyncio.sleep(0)
            elif not asyncio.isfuture(waiting_on):
                throw = RuntimeError(f"a coroutine yielded {waiting_on!r}, not a future")
            else:
                waiting_on._asyncio_future_blocking = False
                await asyncio.wait((waiting_on,))
        except asyncio.CancelledError as cancelled:
            if waiting_on is not None and asyncio.isfuture(waiting_on) and waiting_on.cancel():
                continue  # it hears of it from the future, once that is done
            throw = cancelled
        try:
            if throw is not None:
                error, throw = throw, None
                waiting_on = coro.throw(error)
            else:
                waiting_on = coro.send(None)
        except StopIteration:
            return
