"""The projection bench's query latency (3): GET /api/v1/pipeline-runs on one uvicorn worker
beside the same list_runs calls on asyncpg, with generic and custom plans."""

from __future__ import annotations

import argparse
import random
import time
import uuid
from functools import partial
from typing import Any
from urllib.parse import urlencode

import asyncpg
import msgspec

from bench import _seed as seed
from bench._http_client import Client
from bench._http_load import serve
from domain.run_statuses import RunStatus
from projections.filters import RunFilters
from projections.paging import Page
from projections.run_queries import list_runs

WARMUP_QUERIES = 60
STATUSES = ["failed,succeeded"] * 6 + ["failed", "succeeded", "cancelled,failed", "running"]
BRANCHES = ["main"] * 6 + ["develop", "release/2.4"]


class _Page(msgspec.Struct):
    items: list[msgspec.Raw]
    next_cursor: str | None = None


async def timed(call: Any, sessions: list[tuple[dict[str, Any], int]], n: int) -> tuple:
    """ms and rows of `n` pages after the warm-up: each session's first page and its next ones."""
    times, rows = [], []
    for params, pages in sessions:
        cursor = None
        for _ in range(pages if len(times) < WARMUP_QUERIES + n else 0):
            began = time.perf_counter()
            count, cursor = await call(params, cursor)
            times.append((time.perf_counter() - began) * 1000)
            rows.append(count)
            if cursor is None:
                break
    return times[WARMUP_QUERIES : WARMUP_QUERIES + n], rows[WARMUP_QUERIES : WARMUP_QUERIES + n]


async def query_latency(
    args: argparse.Namespace, conn: asyncpg.Connection, url: str, history: seed.History,
    env: dict[str, str], key: str,
) -> dict[str, Any]:  # fmt: skip
    total = await seed.seed_query_runs(conn, url, history, args.query_runs)
    rng, sessions = random.Random(5), []
    for _ in range(args.requests + WARMUP_QUERIES):  # (filters, pages to follow)
        params = {
            "project_id": rng.choice(history.projects), "status": rng.choice(STATUSES),
            "branch": rng.choice(BRANCHES), "order_by": "started_at",
            "order": rng.choice(("desc", "desc", "asc")), "limit": 50,
        }  # fmt: skip
        sessions.append((params, rng.choice((1, 1, 2, 3))))
    custom = await asyncpg.connect(url, server_settings={"plan_cache_mode": "force_custom_plan"})

    async def sql(c: asyncpg.Connection, params: dict[str, Any], cursor: str | None) -> tuple:
        filters = RunFilters(
            project_ids=(uuid.UUID(params["project_id"]),), branch=params["branch"],
            status=tuple(RunStatus(s) for s in params["status"].split(",")),
        )  # fmt: skip
        page = Page(limit=50, cursor=cursor, order_by="started_at", order=params["order"])
        result = await list_runs(c, "rm_runs", filters, page)
        return len(result.items), result.next_cursor

    times, rows = {}, []
    async with serve("bench.commands:server_app", env) as (port, _pid):
        client = Client(port, {"X-API-Key": key})

        async def http(params: dict[str, Any], cursor: str | None) -> tuple:
            query = urlencode({**params, **({"cursor": cursor} if cursor else {})})
            status, body = await client.request("GET", f"/api/v1/pipeline-runs?{query}")
            if status != 200:
                raise SystemExit(f"GET /api/v1/pipeline-runs answered {status}: {body[:300]!r}")
            page = msgspec.json.decode(body, type=_Page)
            return len(page.items), page.next_cursor

        calls = {"http": http, "sql": partial(sql, conn), "custom": partial(sql, custom)}
        for name, call in calls.items():
            times[name], rows = await timed(call, sessions, args.requests)
        await client.close()
    await custom.close()
    print(
        f"queries: {len(times['http'])} timed per side after {WARMUP_QUERIES} warm-up, "
        f"{sum(rows) / len(rows):.1f} rows a page, {len(history.projects)} projects"
    )
    return {"times": times, "runs": total}
