"""NATS's side of the capacity sums in docs/scaling.md: JetStream publishes, one at a time
(acknowledged before the next) and pipelined, against core NATS; then the relay itself.

    uv run python bench/nats_capacity.py [--messages 5000] [--size 600] [--window 64]
                                         [--relay-events 5000]

(a) JetStream, file storage, one replica: publish and await its ack, one message at a time;
(a') the same with up to `--window` publishes awaiting their acks at once;
(b) the baseline, core NATS publish (no ack) then one flush at the end.
Messages of `--size` bytes (about one event envelope). Printed: messages/s, the client's CPU
per message (this process), and a/b. Uses FLOWLEDGER_NATS_URL when set, else the embedded
server in a temp folder.

Then the relay end to end (`--relay-events`, 0 to skip): that many events appended (streams of
10) to a fresh database, and `adapters.streaming.relay.Relay` publishing all of them from
position 0 to a stream of its own, (r1) one publish at a time (`window=1`) and (rw) with
`--window` in flight (`Nats-Expected-Last-Msg-Id` chained), alternating r1, rw, r1, rw: events/s
from start to checkpoint at the head, and rw/r1.
"""

# ruff: noqa: E402  (the imports after the sys.path fix below)
from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
    sys.path.insert(0, str(ROOT))

import msgspec
import nats
from nats.js.api import StorageType, StreamConfig


async def timed(label: str, n: int, work) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    await work()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{label:<44}{n / wall:>10,.0f} msg/s   {cpu / n * 1e6:6.1f} us CPU/msg (client)")
    return n / wall, cpu / n


async def bench(url: str, args: argparse.Namespace) -> None:
    client = await nats.connect(url)
    js = client.jetstream()
    name = f"BENCH_{uuid.uuid4().hex[:8].upper()}"
    subject = f"bench.{name.lower()}"
    await js.add_stream(
        StreamConfig(name=name, subjects=[f"{subject}.>"], storage=StorageType.FILE, num_replicas=1)
    )
    payload = b"x" * args.size
    n = args.messages

    async def one_at_a_time() -> None:
        for i in range(n):
            await js.publish(f"{subject}.a", payload, headers={"Nats-Msg-Id": f"a{i}"})

    async def pipelined() -> None:
        window = asyncio.Semaphore(args.window)

        async def one(i: int) -> None:
            async with window:
                await js.publish(f"{subject}.w", payload, headers={"Nats-Msg-Id": f"w{i}"})

        await asyncio.gather(*(one(i) for i in range(n)))

    async def core() -> None:
        for _ in range(n):
            await client.publish(f"core.{name.lower()}", payload)
        await client.flush()

    try:
        rate_b, _ = await timed("(b) core NATS publish, one flush", n, core)
        rate_a, _ = await timed("(a) JetStream publish, ack awaited each", n, one_at_a_time)
        rate_w, _ = await timed(f"(a') JetStream publish, {args.window} in flight", n, pipelined)
        ratios = f"a/b = {rate_a / rate_b:.3f}   a'/b = {rate_w / rate_b:.3f}"
        print(f"{ratios}   a'/a = {rate_w / rate_a:.1f}")
    finally:
        await js.delete_stream(name)
        await client.close()


async def relay_bench(database_url: str, nats_url: str, args: argparse.Namespace) -> None:
    from adapters.store import EventStore, NewEvent
    from adapters.store.migrations import migrate
    from adapters.streaming.relay import Relay, RelayConfig
    from domain.envelope import EventMetadata

    await migrate(database_url)
    async with EventStore(database_url, stream_types=frozenset({"bench"})) as store:
        data = {"text": "y" * max(0, args.size - 400)}  # an envelope of about --size bytes
        for _ in range(args.relay_events // 10):
            events = [NewEvent(type="BenchHappened", data=data) for _ in range(10)]
            await store.append(
                str(uuid.uuid4()), "bench", events, expected_version=0, metadata=EventMetadata()
            )
        head = await store.pool.fetchval("SELECT count(*) FROM events")
    rates: dict[int, list[float]] = {1: [], args.window: []}
    for window in [1, args.window] * 2:
        tag = uuid.uuid4().hex[:8].upper()
        config = RelayConfig(stream=f"BENCH_R{tag}", prefix=f"benchr{tag.lower()}")
        if "window" in RelayConfig.__struct_fields__:  # (run on older code: its one way)
            config = msgspec.structs.replace(config, window=window)
        relay, stop = Relay(database_url, nats_url, config), asyncio.Event()
        wall, cpu = time.perf_counter(), time.process_time()
        task = asyncio.create_task(relay.run(stop))
        for _ in range(600_000):  # at most 10 minutes
            if relay.published >= head:
                break
            await asyncio.sleep(0.001)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        stop.set()
        await task
        rates[window].append(head / wall)
        print(f"(r{'w' if window > 1 else '1'}) relay, window {window:<3} {head / wall:>24,.0f} "
              f"events/s {cpu / head * 1e6:6.1f} us CPU/event ({head:,} events)")  # fmt: skip
        client = await nats.connect(nats_url)
        await client.jetstream().delete_stream(config.stream)
        await client.close()
    pairs = [f"{w / o:.1f}" for o, w in zip(rates[1], rates[args.window], strict=True)]
    print(f"rw/r1 = {' and '.join(pairs)}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--size", type=int, default=600, help="bytes per message")
    parser.add_argument("--window", type=int, default=64, help="pipelined publishes in flight")
    parser.add_argument("--relay-events", type=int, default=5000, help="0: skip the relay")
    args = parser.parse_args()

    from bench._servers import bench_servers

    with bench_servers() as (_, urls, _env):
        asyncio.run(bench(urls.nats_url, args))
        if args.relay_events:
            asyncio.run(relay_bench(urls.database_url, urls.nats_url, args))


if __name__ == "__main__":
    main()
