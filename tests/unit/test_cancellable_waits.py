"""The waits that long-running loops stop on never swallow a cancel.

On Python 3.11, `asyncio.wait_for` swallows a cancel that lands just as its inner wait ends
(it returns the inner result instead): a loop around such a wait then outlives its
cancellation, which is how the relay once hung after a kill -9 of PostgreSQL (its head
watcher's `stop` waited forever on a listener that had swallowed the cancel)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable

import pytest

from adapters.store.notifier import wait_at_most
from projections.pacing import pause

Pause = Callable[[asyncio.Event, float], Awaitable[object]]


async def outcomes(wait: Pause) -> set[str]:
    """Cancel the wait at each point of the loop around its inner wait's end: `cancelled`, or
    `finished first` when it had already returned; never `swallowed`."""
    seen = set()
    for turns in range(5):
        stop = asyncio.Event()
        task = asyncio.create_task(wait(stop, 5))
        await asyncio.sleep(0)
        stop.set()
        for _ in range(turns):
            await asyncio.sleep(0)
        if task.done():
            seen.add("finished first")
            continue
        task.cancel()
        try:
            await task
            seen.add("swallowed")
        except asyncio.CancelledError:
            seen.add("cancelled")
    return seen


@pytest.mark.parametrize("wait", [pause, wait_at_most], ids=["pause", "wait_at_most"])
async def test_a_cancel_landing_as_the_wait_ends_is_never_swallowed(wait: Pause) -> None:
    assert await outcomes(wait) == {"cancelled", "finished first"}


async def test_the_check_itself_sees_what_wait_for_did() -> None:
    async def wait_for_pause(stop: asyncio.Event, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)

    # Fixed in 3.12 (wait_for is built on asyncio.timeout there).
    assert ("swallowed" in await outcomes(wait_for_pause)) == (sys.version_info < (3, 12))
