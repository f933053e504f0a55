"""The gateway under uvicorn with a real WebSocket client: close codes, reaping, NATS outages."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path
from typing import Any

import nats
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from adapters.platform.embedded import EmbeddedNats
from adapters.platform.embedded._process import free_port
from adapters.platform.supervisor import listen, serve_http
from adapters.store import EventStore
from adapters.streaming.relay import Relay
from adapters.streaming.relay.message import POSITION
from gateway import codes
from tests.integration.gateway.gatewaying import a_run, step
from tests.integration.gateway.serving import (
    Partition,
    events_from,
    gateway_app,
    served,
    until,
)
from tests.integration.gateway.test_gateway import key
from tests.integration.relay.relaying import (
    running,
    start_at_head,
    unique_config,
    wait_checkpoint,
)


async def closed_with(url: str, **options: Any) -> tuple[ConnectionClosed, str | None]:
    """The close that ends a connection to `url`, and the subprotocol the server accepted."""
    async with connect(url, **options) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 20)
        return closed.value, ws.subprotocol


async def test_a_browser_style_client_reads_every_refusals_code_and_reason(
    store: EventStore, services: Any, database_url: str, nats_url: str
) -> None:
    run, theirs = await a_run(store), await a_run(store)
    _, token = await key(services, run.project)
    prefix = unique_config().prefix
    async with served(gateway_app(database_url, nats_url, prefix=prefix)) as base:
        none, _ = await closed_with(f"{base}/ws/runs/{run.run}")
        bad, accepted = await closed_with(
            f"{base}/ws/runs/{run.run}", subprotocols=["flowledger.token.fl_nope"]
        )
        other, _ = await closed_with(f"{base}/ws/runs/{theirs.run}?token={token}")
        unknown, _ = await closed_with(f"{base}/ws/pipeline/{run.run}?token={token}")
        malformed, _ = await closed_with(f"{base}/ws/runs/{run.run}?token={token}&after=-1")
    assert (none.rcvd.code, none.rcvd.reason) == (
        codes.UNAUTHORIZED,
        "credentials required: ?token= or a subprotocol",
    )
    assert bad.rcvd.code == codes.UNAUTHORIZED and bad.rcvd.reason
    assert accepted == "flowledger.token.fl_nope"  # echoed, or a browser fails the handshake
    # Another project's run is told as unknown: no project named, existence not told.
    assert (other.rcvd.code, other.rcvd.reason) == (codes.NOT_FOUND, f"no run {theirs.run}")
    assert (unknown.rcvd.code, unknown.rcvd.reason) == (codes.NOT_FOUND, f"no pipeline {run.run}")
    assert malformed.rcvd.code == codes.BAD_REQUEST


async def test_a_client_that_stops_answering_pings_is_reaped_while_others_stream_on(
    store: EventStore, services: Any, relay: Any, database_url: str, nats_url: str
) -> None:
    run = await a_run(store)
    _, token = await key(services)
    app = gateway_app(database_url, nats_url, prefix=relay.prefix)
    path = f"/ws/runs/{run.run}?token={token}"
    async with (
        served(app, ws_ping_interval=0.2, ws_ping_timeout=0.5) as base,
        connect(f"{base}{path}") as alive,
    ):
        port = int(base.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        assert b" 101 " in await reader.readuntil(b"\r\n\r\n")
        feed = app.state.gateway_hub.feed
        await until(lambda: feed.subscribers == 2)
        # The raw client never answers the server's pings: it must be dropped.
        await until(lambda: feed.subscribers == 1)
        async with asyncio.timeout(20):
            while await reader.read(65536):  # until the server closes the TCP connection
                pass
        writer.close()
        position = await step(store, run.run, 0)
        [event] = await events_from(alive, 1)
    assert event["position"] == position


async def test_a_gap_in_the_relayed_positions_is_filled_from_the_events_table(
    store: EventStore, services: Any, database_url: str, nats_url: str
) -> None:
    prefix = unique_config().prefix  # no relay: this test publishes by hand
    run = await a_run(store)
    _, token = await key(services)
    app = gateway_app(database_url, nats_url, prefix=prefix)
    path = f"/ws/runs/{run.run}?token={token}&after={run.last}"
    async with served(app) as base, connect(f"{base}{path}") as ws:
        await until(lambda: app.state.gateway_hub.feed.subscribers == 1)
        positions = [await step(store, run.run, i) for i in range(4)]
        nc = await nats.connect(nats_url)
        try:  # only the last event reaches NATS: the three before it are a gap
            subject = f"{prefix}.{run.project}.{run.pipeline}.run.{run.run}.RunLogAppended"
            headers = {POSITION: str(positions[-1])}
            await nc.publish(subject, b'{"position": %d}' % positions[-1], headers=headers)
            await nc.flush()
        finally:
            await nc.close()
        got = await events_from(ws, 4)
    assert [m["position"] for m in got] == positions
    stored = {e.position: e for e in await store.read_stream(run.run)}
    assert [m["event_id"] for m in got[:3]] == [str(stored[p].event_id) for p in positions[:3]]


async def test_nothing_is_missed_or_doubled_while_the_gateways_nats_link_is_down(
    store: EventStore, services: Any, database_url: str
) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="flowledger-test-"))
    server = EmbeddedNats(data_dir, port=free_port())
    config = unique_config()
    try:
        url = await asyncio.to_thread(server.start)
        await start_at_head(database_url, config)
        run = await a_run(store)
        _, token = await key(services)
        async with (
            running(Relay(database_url, url, config)),
            Partition(url) as link,
        ):
            app = gateway_app(database_url, link.url, prefix=config.prefix, reconnect_wait_s=0.2)
            async with (
                served(app) as base,
                connect(f"{base}/ws/runs/{run.run}?token={token}&after={run.last}") as by_run,
                connect(f"{base}/ws/project/{run.project}?token={token}&after={run.last}") as all_,
            ):
                # Both joined before the cut: a socket still being accepted once NATS is gone
                # is refused 1013 (retry), documented behaviour and not what this tests.
                await until(lambda: app.state.gateway_hub.feed.subscribers == 2)
                before = [await step(store, run.run, i) for i in range(3)]
                assert [m["position"] for m in await events_from(by_run, 3)] == before
                await asyncio.to_thread(server.stop)
                link.cut()  # the gateway stays away after NATS is back; the relay does not
                down = [await step(store, run.run, 10 + i) for i in range(3)]
                url = await asyncio.to_thread(server.start)  # the same port and store
                back = [await step(store, run.run, 20 + i) for i in range(3)]
                await wait_checkpoint(database_url, config.stream, back[-1])
                link.heal()  # everything since `before` was published while it was away
                later = [await step(store, run.run, 30 + i) for i in range(3)]
                got_run = await events_from(by_run, 9)
                got_all = await events_from(all_, 12)
                feed = app.state.gateway_hub.feed
    finally:
        await asyncio.to_thread(server.stop)
        shutil.rmtree(data_dir, ignore_errors=True)
    expected = down + back + later
    assert [m["position"] for m in got_run] == expected
    assert [m["position"] for m in got_all] == before + expected
    assert feed.backfilled >= len(down + back)


async def test_a_shutting_down_gateway_says_going_away_and_where_to_resume(
    store: EventStore, services: Any, database_url: str, nats_url: str
) -> None:
    run = await a_run(store)
    _, token = await key(services)
    app = gateway_app(database_url, nats_url, prefix=unique_config().prefix)
    sock = listen("127.0.0.1", 0)
    port = sock.getsockname()[1]
    stop = asyncio.Event()
    serving = asyncio.create_task(serve_http(app, sock, stop, log_level="WARNING"))
    try:
        path = f"ws://127.0.0.1:{port}/ws/runs/{run.run}?token={token}&after={run.last - 1}"
        async with asyncio.timeout(20):
            while True:  # until uvicorn listens
                try:
                    ws = await connect(path)
                    break
                except OSError:
                    await asyncio.sleep(0.05)
        async with ws:
            (replayed,) = await events_from(ws, 1)
            stop.set()  # what SIGTERM does to a role
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 20)
    finally:
        stop.set()
        await asyncio.wait_for(serving, 30)
        sock.close()

    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == codes.GOING_AWAY == 1001
    assert closed.value.rcvd.reason == f"going away; resume after={replayed['position']}"
