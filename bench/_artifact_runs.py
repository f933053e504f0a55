"""Artifacts through flowledger for bench/artifacts.py: a pipeline whose step makes them and
whose next step takes them, timed from the run's events and the steps' own marks, then fetched
through the API."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec

LABEL = "bench-files"


async def through_flowledger(
    api: httpx.AsyncClient,
    admin: dict[str, str],
    project: str,
    database_url: str,
    name: str,
    link: str,
    artifacts: list[str],
    marks: Path,
    fetched: Path,
) -> dict[str, float]:
    make = f"{link}\ndate +%s.%N > {marks}/{name}-made"
    take = f"date +%s.%N > {marks}/{name}-taken\nls -A > /dev/null"
    body = {
        "project_id": project,
        "name": name,
        "steps": [
            {"name": "make", "run": make, "labels": [LABEL], "artifacts": artifacts},
            {"name": "take", "run": take, "labels": [LABEL], "workspace": "clean",
             "download": ["make"]},
        ],
    }  # fmt: skip
    answer = await api.post("/api/v1/pipelines", json=body, headers=admin)
    answer.raise_for_status()
    answer = await api.post(f"/api/v1/pipelines/{answer.json()['id']}/runs", json={},
                            headers=admin)  # fmt: skip
    run_id = answer.json()["id"]
    events = await until_done(database_url, run_id)
    uploaded = next(d for t, d in events if t == "ArtifactUploaded" and d["kind"] == "artifact")
    started = next(d for t, d in events if t == "StepStarted" and d["step"] == "take")
    made = float((marks / f"{name}-made").read_text())
    taken = float((marks / f"{name}-taken").read_text())
    figures = {
        "upload": _at(uploaded) - made,
        "download": taken - _at(started),
        "bytes": float(uploaded["size"]),
    }
    url = f"/api/v1/pipeline-runs/{run_id}/artifacts/make"
    await listed(api, admin, url.rsplit("/", 1)[0])
    began = time.perf_counter()
    async with api.stream("GET", url, headers=admin) as answer:
        answer.raise_for_status()
        with fetched.open("wb") as file:
            async for block in answer.aiter_bytes(256 * 1024):
                file.write(block)
    figures["api download"] = time.perf_counter() - began
    return figures


async def listed(api: httpx.AsyncClient, admin: dict[str, str], url: str) -> None:
    """Wait until the run's artifact is in the view the API reads."""
    async with asyncio.timeout(60):
        while True:
            if (await api.get(url, headers=admin)).json()["items"]:
                return
            await asyncio.sleep(0.05)


def _at(data: dict[str, Any]) -> float:
    return datetime.fromisoformat(data["occurred_at"]).timestamp()


async def until_done(database_url: str, run_id: str) -> list[tuple[str, dict[str, Any]]]:
    conn = await asyncpg.connect(database_url)
    try:
        async with asyncio.timeout(600):
            while True:
                rows = await conn.fetch("SELECT type, data FROM events WHERE stream_id = $1 "
                                        "ORDER BY position", run_id)  # fmt: skip
                types = {r["type"] for r in rows}
                if types & {"RunSucceeded", "RunFailed"}:
                    break
                await asyncio.sleep(0.1)
    finally:
        await conn.close()
    if "RunFailed" in types:
        raise SystemExit(f"run {run_id} failed: see the runner's log")
    return [(r["type"], msgspec.json.decode(r["data"])) for r in rows]
