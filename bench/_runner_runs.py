"""Requesting runs of the runner bench (closed loop, paced) and timing each from its events:
requested -> dispatched -> published -> started."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import httpx
import msgspec
import nats

PREFIX = "flowledger.events"
JOBS = "flowledger.jobs"
PUBLISHED: dict[str, datetime] = {}
"""When each run's job was published (this process's clock, the same host as the database)."""


class Outcomes:
    """Which runs have ended (RunSucceeded / RunFailed on NATS) and when each job was published."""

    def __init__(self, nc: nats.NATS) -> None:
        self._nc = nc
        self._done: dict[str, asyncio.Future[None]] = {}

    @classmethod
    @contextlib.asynccontextmanager
    async def watching(cls, nats_url: str) -> AsyncIterator[Outcomes]:
        nc = await nats.connect(nats_url)
        outcomes = cls(nc)
        try:
            await nc.subscribe(f"{JOBS}.>", cb=outcomes._on_job)
            await nc.subscribe(f"{PREFIX}.*.*.run.*.RunSucceeded", cb=outcomes._on_end)
            await nc.subscribe(f"{PREFIX}.*.*.run.*.RunFailed", cb=outcomes._on_end)
            yield outcomes
        finally:
            await nc.close()

    async def ended(self, run_id: str) -> None:
        await asyncio.wait_for(self._future(run_id), 120)

    def _future(self, run_id: str) -> asyncio.Future[None]:
        return self._done.setdefault(run_id, asyncio.get_running_loop().create_future())

    async def _on_end(self, msg: nats.aio.msg.Msg) -> None:
        waiting = self._future(msgspec.json.decode(msg.data)["stream_id"])
        if not waiting.done():
            waiting.set_result(None)

    async def _on_job(self, msg: nats.aio.msg.Msg) -> None:
        # A core subscriber sees a JetStream subject's messages as they are published.
        PUBLISHED.setdefault(msgspec.json.decode(msg.data)["run_id"], datetime.now(UTC))


async def trigger(
    api: httpx.AsyncClient, pipeline: str, admin: dict[str, str], body: dict[str, str]
) -> str:
    answer = await api.post(f"/api/v1/pipelines/{pipeline}/runs", json=body, headers=admin)
    answer.raise_for_status()
    return str(answer.json()["id"])


async def closed_loop(
    api: httpx.AsyncClient,
    pipeline: str,
    admin: dict[str, str],
    nats_url: str,
    runs: int,
    clients: int,
    body: dict[str, str] | None = None,
) -> tuple[list[str], float]:
    """`runs` runs by `clients` clients, each waiting for its run to end; ids, seconds."""
    ids: list[str] = []
    left = runs
    async with Outcomes.watching(nats_url) as outcomes:

        async def client() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                run_id = await trigger(api, pipeline, admin, body or {})
                ids.append(run_id)
                await outcomes.ended(run_id)

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        seconds = time.perf_counter() - started
    return ids, seconds


async def paced(
    api: httpx.AsyncClient,
    pipeline: str,
    admin: dict[str, str],
    nats_url: str,
    runs: int,
    per_second: float,
    body: dict[str, str] | None = None,
) -> list[str]:
    """`runs` runs requested at a steady `per_second` whatever came of the earlier ones."""
    ids: list[str] = []
    async with Outcomes.watching(nats_url) as outcomes:

        async def one() -> None:
            run_id = await trigger(api, pipeline, admin, body or {})
            ids.append(run_id)
            await outcomes.ended(run_id)

        loop = asyncio.get_running_loop()
        began, started = loop.time(), []
        for i in range(runs):
            await asyncio.sleep(max(0.0, began + i / per_second - loop.time()))
            started.append(asyncio.create_task(one()))
        await asyncio.gather(*started)
    return ids


async def overheads_ms(database_url: str, run_ids: list[str]) -> dict[str, list[float]]:
    """Per run: requested -> started, and its two legs (-> dispatched, dispatched -> started)."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT r.stream_id, r.recorded_at AS requested, d.recorded_at AS dispatched, "
            "s.recorded_at AS started FROM events r "
            "JOIN events d ON d.stream_id = r.stream_id AND d.type = 'StepDispatched' "
            "JOIN events s ON s.stream_id = r.stream_id AND s.type = 'StepStarted' "
            "WHERE r.type = 'RunRequested' AND r.stream_id = ANY($1)",
            run_ids,
        )
    finally:
        await conn.close()

    times = [{**r, "published": PUBLISHED[r["stream_id"]]} for r in rows]

    def ms(a: str, b: str) -> list[float]:
        return [(r[b] - r[a]).total_seconds() * 1000 for r in times]

    return {
        "total": ms("requested", "started"),
        "dispatched": ms("requested", "dispatched"),
        "published": ms("dispatched", "published"),
        "runner": ms("published", "started"),
    }
