"""gateway.eager: a coroutine run at once, up to its first wait, then carried on as a task."""

from __future__ import annotations

import asyncio
import contextvars

import pytest

from gateway import eager

where = contextvars.ContextVar("where", default="caller")


async def test_what_never_waits_is_done_when_start_returns() -> None:
    done: list[str] = []

    async def send() -> None:
        done.append("sent")

    assert eager.start(send()) is None
    assert done == ["sent"]


async def test_an_error_before_any_wait_is_raised_to_the_caller() -> None:
    async def broken() -> None:
        raise OSError("the socket is gone")

    with pytest.raises(OSError, match="the socket is gone"):
        eager.start(broken())


async def test_what_waits_goes_on_in_a_task_with_the_result_it_waited_for() -> None:
    steps: list[str] = []
    answer: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def send() -> None:
        steps.append("framed")
        steps.append(await answer)
        await asyncio.sleep(0)  # a bare yield on the way
        try:
            await asyncio.sleep(0.01)
        finally:
            steps.append("written")

    task = eager.start(send())
    assert task is not None and steps == ["framed"]
    answer.set_result("drained")
    await asyncio.wait_for(task, 5)
    assert steps == ["framed", "drained", "written"]


async def test_the_error_of_what_it_waited_for_is_raised_inside_it() -> None:
    failure: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    seen: list[BaseException] = []

    async def send() -> None:
        try:
            await failure
        except ConnectionResetError as error:
            seen.append(error)
            raise

    task = eager.start(send())
    assert task is not None
    failure.set_exception(ConnectionResetError("reset"))
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(task, 5)
    assert len(seen) == 1


async def test_cancelling_the_task_cancels_what_it_waits_on_and_it_hears_so() -> None:
    stalled: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    heard: list[str] = []

    async def send() -> None:
        try:
            await stalled
        except asyncio.CancelledError:
            heard.append("cancelled")
            raise

    task = eager.start(send())
    assert task is not None
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert stalled.cancelled() and heard == ["cancelled"] and task.cancelled()


async def test_cancelling_while_it_waits_on_another_task_waits_for_that_one_to_stop() -> None:
    stopped: list[str] = []

    async def inner() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(0)  # stopping takes a turn of its own
            stopped.append("inner")

    async def send() -> None:
        await asyncio.create_task(inner())

    task = eager.start(send())
    assert task is not None
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
    assert stopped == ["inner"]


async def test_a_cancel_it_catches_lets_it_finish() -> None:
    finished: list[str] = []

    async def send() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await asyncio.sleep(0)
        finished.append("anyway")

    task = eager.start(send())
    assert task is not None
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.wait_for(asyncio.wait((task,)), 5)
    assert not task.cancelled() and task.exception() is None and finished == ["anyway"]


async def test_what_it_sets_in_its_context_stays_its_own() -> None:
    release: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    seen: list[str] = []

    async def send() -> None:
        where.set("send")
        seen.append(where.get())
        await release
        seen.append(where.get())

    task = eager.start(send())
    assert task is not None and where.get() == "caller"
    release.set_result(None)
    await asyncio.wait_for(task, 5)
    assert seen == ["send", "send"] and where.get() == "caller"
