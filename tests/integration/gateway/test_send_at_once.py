"""Live messages are sent at once when nothing is ahead of them; a send that has to wait holds
back its own connection's later messages, in order, and no other connection's."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from adapters.store import EventStore
from adapters.streaming.relay import RelayConfig
from gateway.session import Session
from tests.integration.gateway.gatewaying import a_run, connect, gateway, leave, receive, step
from tests.integration.gateway.test_gateway import key


async def test_a_send_that_waits_keeps_its_connections_order_and_holds_up_no_other(
    store: EventStore,
    services: Any,
    relay: RelayConfig,
    database_url: str,
    nats_url: str,
    monkeypatch: Any,
) -> None:
    original = Session.send
    paused, released = threading.Event(), threading.Event()  # the app runs on its own loop
    pause_past: list[int] = []

    async def send(self: Session, body: str) -> None:
        held = self.socket.query_params.get("pause") and pause_past
        if held and self.last >= pause_past[0] and not paused.is_set():
            paused.set()  # its next live message: the socket's buffer is full, say
            await asyncio.to_thread(released.wait, 30)
        await original(self, body)

    monkeypatch.setattr(Session, "send", send)
    run = await a_run(store)
    _, token = await key(services)
    async with gateway(database_url, nats_url, relay) as client:
        held = await connect(client, f"/ws/runs/{run.run}", token=token, after=run.last, pause=1)
        free = await connect(client, f"/ws/runs/{run.run}", token=token, after=run.last)
        warm = await step(store, run.run, 0)  # both past their replays, live and waiting
        for ws in (held, free):
            assert [m["position"] for m in await receive(ws, 1)] == [warm]
        pause_past.append(warm)
        first = await step(store, run.run, 1)
        assert await asyncio.to_thread(paused.wait, 15)
        positions = [first] + [await step(store, run.run, i) for i in range(2, 21)]
        got_free = await receive(free, 20)  # all of it while the other one is held
        released.set()
        got_held = await receive(held, 20)
        for ws in (held, free):
            await leave(ws)
    assert [m["position"] for m in got_free] == positions
    assert [m["position"] for m in got_held] == positions
