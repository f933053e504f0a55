"""The client side of bench/fanout.py, in processes of its own (never the gateway's CPU share).

    BENCH_TOKEN=... python -m bench._ws_clients ws://HOST:PORT RUN_IDS_CSV PER_RUN
    python -m bench._ws_clients --probe NATS_URL SUBJECT EVENTS_SUBJECT

The first connects PER_RUN clients to /ws/runs/{id} for each run (as browsers do: offering
permessage-deflate, answering the server's pings but sending none of their own) and prints
`ready` once all are open; it then reads `START END` (wall-clock times) from stdin and at END
prints one JSON line: {"cpu_s" (this process's CPU in the window), "received": [[position,
receipt time], ...] for receipts in [START, END), "closed"}. The second, the baseline, subscribes to
SUBJECT on NATS and prints {"latencies_ms": [...]} for the messages of the window, whose body
is the wall-clock time they were published at; it also notes when each relayed event reaches a
NATS subscriber ({"relayed": [[position, receipt time], ...]}), which splits the end-to-end
latency into the relay's share and the gateway's.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time

import msgspec
import nats
from websockets.asyncio.client import ClientConnection, connect

CONNECTING_AT_ONCE = 100


class Message(msgspec.Struct):
    position: int
    type: str | None = None


async def window() -> tuple[float, float]:
    """`ready` on stdout, then the measured window from stdin."""
    print("ready", flush=True)
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    start, end = line.split()
    return float(start), float(end)


class Tally:
    def __init__(self) -> None:
        self.start, self.end = float("inf"), float("-inf")
        self.received: list[tuple[int, float]] = []
        self.closed = 0
        self.cpu_s = 0.0


async def listen(ws: ClientConnection, tally: Tally) -> None:
    decode = msgspec.json.Decoder(Message).decode
    try:
        async for raw in ws:
            now = time.time()
            message = decode(raw)
            if message.type != "heartbeat" and tally.start <= now < tally.end:
                tally.received.append((message.position, now))
    except Exception:
        tally.closed += 1


async def clients(base: str, runs: list[str], per_run: int) -> Tally:
    token = os.environ["BENCH_TOKEN"]
    tally = Tally()
    urls = [f"{base}/ws/runs/{run}?token={token}" for run in runs for _ in range(per_run)]
    gate = asyncio.Semaphore(CONNECTING_AT_ONCE)

    async def one(url: str) -> ClientConnection:
        async with gate:
            # A browser's WebSocket never pings (websockets' own client would, every 20 s: 100
            # extra frames a second for the gateway to read and answer across 2,000 clients).
            return await connect(url, open_timeout=60, max_queue=None, ping_interval=None)

    sockets = await asyncio.gather(*(one(url) for url in urls))
    listeners = [asyncio.create_task(listen(ws, tally)) for ws in sockets]
    tally.start, tally.end = await window()
    await asyncio.sleep(max(0.0, tally.start - time.time()))
    cpu = time.process_time()
    await asyncio.sleep(max(0.0, tally.end - time.time()))
    tally.cpu_s = time.process_time() - cpu
    for task in listeners:
        task.cancel()
    for ws in sockets:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(), 1)
    return tally


async def probe(url: str, subject: str, events: str) -> dict[str, list]:
    latencies: list[float] = []
    relayed: list[tuple[int, float]] = []
    start, end = float("inf"), float("-inf")

    async def on_event(msg: nats.aio.msg.Msg) -> None:
        now = time.time()
        if start <= now < end:
            relayed.append((int(msg.headers["Flowledger-Position"]), now))

    async def on_message(msg: nats.aio.msg.Msg) -> None:
        now = time.time()
        if start <= now < end:
            latencies.append(round((now - float(msg.data)) * 1000, 3))

    nc = await nats.connect(url)
    await nc.subscribe(subject, cb=on_message)
    await nc.subscribe(events, cb=on_event)
    await nc.flush()
    start, end = await window()
    await asyncio.sleep(max(0.0, end - time.time()))
    await nc.close()
    return {"latencies_ms": latencies, "relayed": relayed}


def main() -> None:
    if sys.argv[1] == "--probe":
        found = asyncio.run(probe(*sys.argv[2:5]))
        sys.stdout.buffer.write(msgspec.json.encode(found) + b"\n")
        return
    base, runs, per_run = sys.argv[1:4]
    tally = asyncio.run(clients(base, runs.split(","), int(per_run)))
    result = {"cpu_s": tally.cpu_s, "received": tally.received, "closed": tally.closed}
    sys.stdout.buffer.write(msgspec.json.encode(result) + b"\n")


if __name__ == "__main__":
    main()
