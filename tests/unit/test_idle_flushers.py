"""The group commit's idle flushers are woken one at a time, the last to go idle first."""

from __future__ import annotations

import asyncio

from adapters.store.idle_flushers import IdleFlushers


async def _idle(idle: IdleFlushers, name: str, woken: list[str], timeout: float | None) -> bool:
    answer = await idle.wait(timeout)
    woken.append(name)
    return answer


async def test_one_wake_wakes_one_flusher_the_last_to_go_idle() -> None:
    idle, woken = IdleFlushers(), []
    first = asyncio.create_task(_idle(idle, "first", woken, None))
    await asyncio.sleep(0)
    last = asyncio.create_task(_idle(idle, "last", woken, None))
    await asyncio.sleep(0)

    idle.wake_one()
    await asyncio.sleep(0.01)
    assert woken == ["last"]
    assert await last is True

    idle.wake_one()
    assert await first is True
    assert woken == ["last", "first"]


async def test_a_wake_with_no_flusher_idle_is_not_kept_for_a_later_one() -> None:
    idle = IdleFlushers()
    idle.wake_one()  # the flushers busy then look at the queue themselves when done

    assert await idle.wait(0.02) is False


async def test_a_flusher_idle_past_its_time_is_told_so_and_no_longer_woken() -> None:
    idle, woken = IdleFlushers(), []
    waiting = asyncio.create_task(_idle(idle, "waiting", woken, None))
    await asyncio.sleep(0)
    assert await idle.wait(0.01) is False  # went idle last, and timed out

    idle.wake_one()  # so this wake is the earlier flusher's
    assert await waiting is True


async def test_a_cancelled_flusher_is_no_longer_woken() -> None:
    idle, woken = IdleFlushers(), []
    waiting = asyncio.create_task(_idle(idle, "waiting", woken, None))
    await asyncio.sleep(0)
    stopped = asyncio.create_task(idle.wait())
    await asyncio.sleep(0)
    stopped.cancel()
    await asyncio.sleep(0)

    idle.wake_one()
    assert await waiting is True
