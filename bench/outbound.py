"""Outbound webhooks: 20,000 events delivered to 50 subscriptions, one receiver failing half
the time, against publishing the same events to NATS alone, in the same run.

    uv run python bench/outbound.py [--events 20000] [--subscriptions 50]

Real processes, as in production: `flowledger relay` and `flowledger deliverer` over embedded
PostgreSQL and NATS in a temp folder; the receiver (bench/_receiver.py) in a process of its
own, answering 204, except the first subscription's path, which answers 503 to every other
request (so about half its deliveries are retried). Each subscription belongs to a project of
its own; the events (`ProjectRenamed`) are appended round-robin to those projects, so each
event is wanted by exactly one subscription. Lag: from the moment the append returned (the
event committed) to the receiver's acceptance (its first 2xx).

Baseline, same run, same NATS: the same events' envelopes published to a JetStream stream of
their own (awaiting each ack) and read back by one subscriber; lag from publish to receipt.

Checked: every event accepted by its subscription (zero lost) and, per subscription, accepted
in position order (zero out of order; a retry repeats the same event, never a later one first).
"""

# ruff: noqa: E402  (the imports after the sys.path fix below)
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
    sys.path.insert(0, str(ROOT))

import itertools

import httpx
import nats

from bench._figures import pct

BATCH = 20
"""Events appended per stream append."""
WRITERS = 4


@contextlib.asynccontextmanager
async def process(*argv: str, env: dict[str, str]) -> AsyncIterator[asyncio.subprocess.Process]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *argv, cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE
    )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def setup(env: dict[str, str], subscriptions: int, receiver: str) -> tuple[object, list]:
    from adapters.bootstrap import open_services
    from adapters.platform.settings import load_settings
    from adapters.store.migrations import migrate
    from commands.context import CommandContext, Principal
    from commands.projects import CreateProject
    from commands.subscriptions import CreateSubscription

    await migrate(env["FLOWLEDGER_DATABASE_URL"])
    settings = load_settings(env, cwd=Path(env["FLOWLEDGER_DATA_DIR"]))
    admin = Principal(id="bench", name="bench", project_id=None, scopes=frozenset({"admin"}))
    subs = []
    async with open_services(settings, env["FLOWLEDGER_DATABASE_URL"]) as services:
        for n in range(subscriptions):
            ctx = CommandContext(principal=admin, at=datetime.now(UTC), correlation_id="bench")
            made = await services.bus.dispatch(
                CreateProject(name=f"p{n}", slug=f"p{n}-{uuid.uuid4().hex[:8]}"), ctx
            )
            path = f"/half/{n}" if n == 0 else f"/ok/{n}"
            ctx = CommandContext(principal=admin, at=datetime.now(UTC), correlation_id="bench")
            await services.bus.dispatch(
                CreateSubscription(
                    project_id=uuid.UUID(made.id),
                    url=receiver + path,
                    event_types=("ProjectRenamed",),
                ),
                ctx,
            )
            subs.append((made.id, path))
    return settings, subs


async def append_all(env: dict[str, str], settings: object, subs: list, events: int) -> dict:
    """Append `events` renames round-robin; position -> (path, committed at)."""
    from adapters.bootstrap import open_services
    from adapters.store import NewEvent
    from domain.envelope import EventMetadata

    committed: dict[int, tuple[str, float]] = {}
    per_stream = events // len(subs)
    async with open_services(settings, env["FLOWLEDGER_DATABASE_URL"]) as services:
        store = services.store

        async def write(share: list) -> None:
            for project_id, path in share:
                done = 0
                while done < per_stream:
                    count = min(BATCH, per_stream - done)
                    version = await store.stream_version(project_id)
                    at = datetime.now(UTC).isoformat()
                    result = await store.append(
                        project_id,
                        "project",
                        [
                            NewEvent(
                                type="ProjectRenamed",
                                data={"name": f"n{done + i}", "occurred_at": at},
                            )
                            for i in range(count)
                        ],
                        expected_version=version,
                        metadata=EventMetadata(correlation_id="bench"),
                    )
                    now = time.time()
                    for position in range(
                        result.last_position - count + 1, result.last_position + 1
                    ):
                        committed[position] = (path, now)
                    done += count

        # Interleaved: each writer takes every WRITERS-th project, a batch at a time.
        await asyncio.gather(*(write(subs[i::WRITERS]) for i in range(WRITERS)))
    return committed


async def receiver_count(client: httpx.AsyncClient, base: str) -> int:
    return int((await client.get(base + "/count")).text)


async def baseline(nats_url: str, database_url: str, count: int) -> dict:
    """The same events' envelopes, published to JetStream alone and read back."""
    import asyncpg

    from adapters.store import reader
    from adapters.streaming.relay import message

    conn = await asyncpg.connect(database_url)
    try:
        head = await reader.head(conn)
        envelopes = []
        after = max(0, head - count)
        while after < head:
            batch = await reader.read_after(conn, after, 1000)
            envelopes += batch
            after = batch[-1].position
    finally:
        await conn.close()
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    stream = f"BENCH_BASE_{uuid.uuid4().hex[:8]}"
    await js.add_stream(name=stream, subjects=[f"{stream}.>"])
    sent: dict[int, float] = {}
    lags: list[float] = []
    done = asyncio.Event()

    async def received(msg) -> None:
        position = int(msg.headers[message.POSITION])
        lags.append(time.time() - sent[position])
        if len(lags) == len(envelopes):
            done.set()

    await js.subscribe(f"{stream}.>", cb=received, ordered_consumer=True)
    start = time.time()
    for envelope in envelopes:
        body, headers = message.encode(envelope, nc.max_payload)
        sent[envelope.position] = time.time()
        await js.publish(f"{stream}.{envelope.stream_id}", body, headers=headers)
    await asyncio.wait_for(done.wait(), 300)
    took = time.time() - start
    await js.delete_stream(stream)
    await nc.close()
    return {"events": len(envelopes), "seconds": took, "lags": lags}


async def bench(args: argparse.Namespace, env: dict[str, str]) -> dict:
    env = {
        **env,
        "FLOWLEDGER_OUTBOUND_ALLOW": "127.0.0.1",
        "FLOWLEDGER_OUTBOUND_BACKOFF_BASE_MS": "20",
        "FLOWLEDGER_OUTBOUND_BACKOFF_CAP_S": "1",
        "FLOWLEDGER_OUTBOUND_RETRY_FOR_S": "600",
        "FLOWLEDGER_OUTBOUND_DISABLE_AFTER_PARKED": "1000",
    }
    async with contextlib.AsyncExitStack() as stack:
        recv = await stack.enter_async_context(process("bench/_receiver.py", env=env))
        assert recv.stdout is not None
        port = int((await recv.stdout.readline()).decode())
        base = f"http://127.0.0.1:{port}"
        settings, subs = await setup(env, args.subscriptions, base)
        await stack.enter_async_context(process("-m", "adapters.cli.main", "relay", env=env))
        await stack.enter_async_context(process("-m", "adapters.cli.main", "deliverer", env=env))
        await wait_for_consumers(env["FLOWLEDGER_NATS_URL"], settings.relay_stream, len(subs))
        client = await stack.enter_async_context(httpx.AsyncClient(timeout=30))
        start = time.time()
        committed = await append_all(env, settings, subs, args.events)
        appended = time.time()
        total = len(committed)
        while await receiver_count(client, base) < total:
            if time.time() - start > args.timeout:
                break
            await asyncio.sleep(0.2)
        finished = time.time()
        report = (await client.get(base + "/report")).text
    records = [json.loads(line) for line in report.splitlines() if line]
    base_figures = await baseline(env["FLOWLEDGER_NATS_URL"], env["FLOWLEDGER_DATABASE_URL"], total)
    return {
        "committed": committed,
        "records": records,
        "start": start,
        "appended": appended,
        "finished": finished,
        "baseline": base_figures,
    }


async def wait_for_consumers(nats_url: str, stream: str, count: int) -> None:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        for _ in range(600):
            with contextlib.suppress(Exception):
                infos = await js.consumers_info(stream)
                started = sum(1 for i in infos if (i.name or "").startswith("outbound-"))
                if started > count and any(i.name == "outbound-control" for i in infos):
                    return
            await asyncio.sleep(0.2)
        raise SystemExit("the deliverer did not start its consumers")
    finally:
        await nc.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--subscriptions", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()

    from bench._servers import bench_servers

    with bench_servers() as (_, urls, env):
        env["FLOWLEDGER_DATABASE_URL"] = urls.database_url
        r = asyncio.run(bench(args, env))

    committed, records = r["committed"], r["records"]
    accepted: dict[str, list[int]] = {}
    lags = []
    first_ok: set[tuple[str, int]] = set()
    for path, _id, position, at, status in records:
        if status != 204:
            continue
        key = (path, position)
        if key in first_ok:
            continue  # a repeat (retry after a lost answer): counted once
        first_ok.add(key)
        accepted.setdefault(path, []).append(position)
        if position in committed:
            lags.append(at - committed[position][1])
    lost = [p for p, (path, _) in committed.items() if (path, p) not in first_ok]
    out_of_order = sum(
        1 for positions in accepted.values() for a, b in itertools.pairwise(positions) if b < a
    )
    failed = sum(1 for r_ in records if r_[4] != 204)
    took = r["finished"] - r["start"]
    delivered = len(first_ok)
    base = r["baseline"]
    rate, base_rate = delivered / took, base["events"] / base["seconds"]
    p50, p99 = pct(lags, 0.5) * 1000, pct(lags, 0.99) * 1000
    b50, b99 = pct(base["lags"], 0.5) * 1000, pct(base["lags"], 0.99) * 1000
    print(f"events {len(committed)} to {len(accepted)} subscriptions (one failing half the time)")
    print(f"  appended in {r['appended'] - r['start']:.1f} s; all accepted after {took:.1f} s")
    print(f"  receiver answered 503 {failed} times (retried)")
    print(f"  lost {len(lost)}, out of order {out_of_order}")
    print(
        f"  throughput {rate:,.0f} deliveries/s   baseline NATS alone {base_rate:,.0f} "
        f"events/s   ratio {rate / base_rate:.2f}"
    )
    print(
        f"  lag p50 {p50:,.0f} ms  p99 {p99:,.0f} ms   baseline p50 {b50:,.1f} ms  "
        f"p99 {b99:,.1f} ms   ratio p99 {p99 / b99:.1f}"
    )
    sys.exit(0 if not lost and not out_of_order else 1)


if __name__ == "__main__":
    main()
