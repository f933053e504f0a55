"""NATS's side of the capacity sums in docs/scaling.md: JetStream publishes, one at a time
(acknowledged before the next, as the relay publishes today) and pipelined, against core NATS.

    uv run python bench/nats_capacity.py [--messages 5000] [--size 600] [--window 64]

(a) JetStream, file storage, one replica: publish and await its ack, one message at a time;
(a') the same with up to `--window` publishes awaiting their acks at once;
(b) the baseline, core NATS publish (no ack) then one flush at the end.
Messages of `--size` bytes (about one event envelope). Printed: messages/s, the client's CPU
per message (this process), and a/b. Uses FLOWLEDGER_NATS_URL when set, else the embedded
server in a temp folder.
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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--size", type=int, default=600, help="bytes per message")
    parser.add_argument("--window", type=int, default=64, help="pipelined publishes in flight")
    args = parser.parse_args()

    from bench._servers import bench_servers

    with bench_servers() as (_, urls, _env):
        asyncio.run(bench(urls.nats_url, args))


if __name__ == "__main__":
    main()
