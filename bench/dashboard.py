"""The dashboard in headless Chromium: time to first paint, and live-update latency.

    uv run python bench/dashboard.py [--runs 2000] [--pages 20] [--updates 40]

Starts `flowledger up` on a fresh data folder (its own embedded PostgreSQL and NATS), triggers
--runs runs through the API (their steps need a label no runner has, so they stay queued and
the store holds exactly what the API wrote), then opens the runs page in Debian's Chromium:
first contentful paint of one page, then --pages pages signed in and live. Each of --updates
runs triggered afterwards is timed from the API's answer to its row appearing in every page's
DOM, beside the same run's `RunRequested` arriving on a plain WebSocket client (/ws/system).

The issue's scenario (100,000 runs and a run of 50,000 log lines) is larger than this script
seeds by default: pass --runs 100000 for the first half (seeding through the API takes a while).
"""

# ruff: noqa: E402  (the imports after the sys.path fix below)
from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
    sys.path.insert(0, str(ROOT))

import httpx

from bench._figures import pct, verdict

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
FCP = """() => new Promise(resolve => new PerformanceObserver((list, observer) => {
  const paint = list.getEntriesByName('first-contentful-paint')[0];
  if (paint) { observer.disconnect(); resolve(paint.startTime); }
}).observe({type: 'paint', buffered: true}))"""
WATCH = """runId => new Promise(resolve => {
  const seen = () => document.querySelector(`tr[data-run="${runId}"]`);
  if (seen()) return resolve(performance.timeOrigin + performance.now());
  new MutationObserver((_, observer) => {
    if (seen()) { observer.disconnect(); resolve(performance.timeOrigin + performance.now()); }
  }).observe(document.body, {childList: true, subtree: true});
})"""


async def up(workdir: Path, port: int) -> tuple[asyncio.subprocess.Process, str]:
    env = {"FLOWLEDGER_DATA_DIR": str(workdir / "data"), "FLOWLEDGER_PORT": str(port),
           "FLOWLEDGER_RATE_LIMIT_PER_KEY": "0", "FLOWLEDGER_RATE_LIMIT_PER_ADDRESS": "0",
           "FLOWLEDGER_LOG_LEVEL": "WARNING", "PATH": "/usr/bin:/bin"}  # fmt: skip
    log = (workdir / "up.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adapters.cli.main", "up", cwd=ROOT, env=env, stdout=log,
        stderr=log,
    )  # fmt: skip
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as probe:
        for _ in range(600):
            key = re.search(r"X-API-Key: (\S+)", (workdir / "up.log").read_text())
            try:
                if key and (await probe.get("/ready")).status_code == 200:
                    return proc, key.group(1)
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit(f"`up` did not start:\n{(workdir / 'up.log').read_text()}")


async def seed(api: httpx.AsyncClient, runs: int) -> str:
    project = (await api.post("/api/v1/projects", json={"name": "bench", "slug": "bench"})).json()
    body = {"project_id": project["id"], "name": "bench",
            "steps": [{"name": "wait", "run": "true", "labels": ["nobody-has-this"]}]}  # fmt: skip
    pipeline = (await api.post("/api/v1/pipelines", json=body)).json()["id"]
    sem = asyncio.Semaphore(16)

    async def one() -> None:
        async with sem:
            answer = await api.post(f"/api/v1/pipelines/{pipeline}/runs", json={})
            answer.raise_for_status()

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(runs)))
    print(f"seeded {runs:,} runs through the API in {time.perf_counter() - started:.1f} s")
    return pipeline


async def bench(args: argparse.Namespace) -> None:
    from playwright.async_api import async_playwright
    from websockets.asyncio.client import connect

    from bench._http_load import free_port

    workdir, port = Path(tempfile.mkdtemp(prefix="flowledger-bench-dash-")), free_port()
    proc, key = await up(workdir, port)
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": key}, timeout=60) as api:
            pipeline = await seed(api, args.runs)
            # Until the runs view holds them all: the page is timed, not the catch-up.
            views = "/api/v1/pipeline-runs?limit=1"
            while (await api.get(views)).json()["position"] < args.runs:  # noqa: ASYNC110
                await asyncio.sleep(0.2)
            async with async_playwright() as driver:
                browser = await driver.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                context = await browser.new_context(base_url=base)
                first = await context.new_page()
                await first.goto("/dashboard/sign-in")
                await first.fill("#token", key)
                await first.click("button[type=submit]")
                await first.wait_for_url("**/dashboard/runs")
                paints = []
                for _ in range(5):
                    await first.goto("/dashboard/runs")
                    paints.append(await first.evaluate(FCP))
                pages = [first] + [await context.new_page() for _ in range(args.pages - 1)]
                for page in pages[1:]:
                    await page.goto("/dashboard/runs")
                for page in pages:
                    await page.wait_for_function("() => document.body.dataset.live === 'open'")
                dom, plain = await live(api, pages, pipeline, key, port, args.updates, connect)
                await browser.close()
    finally:
        proc.send_signal(2)
        await proc.wait()
    print(
        f"runs page, {args.runs:,} runs in the store: first contentful paint "
        f"p50 {pct(paints, 0.5):.0f} ms, max {max(paints):.0f} ms "
        f"(target < 500 ms: {verdict(max(paints) < 500)})\n"
        f"live update, API answer -> row in the DOM of each of {args.pages} pages, "
        f"{args.updates} runs: p50 {pct(dom, 0.5):.0f} ms, p99 {pct(dom, 0.99):.0f} ms "
        f"(target p99 < 250 ms: {verdict(pct(dom, 0.99) < 250)})\n"
        f"baseline, API answer -> RunRequested on a plain WebSocket client: "
        f"p50 {pct(plain, 0.5):.0f} ms, p99 {pct(plain, 0.99):.0f} ms"
    )


async def live(api, pages, pipeline, key, port, updates, connect):  # type: ignore[no-untyped-def]
    dom: list[float] = []
    plain: list[float] = []
    url = f"ws://127.0.0.1:{port}/ws/system"
    async with connect(url, subprotocols=[f"flowledger.token.{key}"], ping_interval=None) as socket:
        for _ in range(updates):
            # Each page watches for the next run's row; the id is known only after the answer,
            # so the pages watch for any new row: the runs page shows the newest first.
            answer = await api.post(f"/api/v1/pipelines/{pipeline}/runs", json={})
            answered = time.time() * 1000
            run = answer.json()["id"]
            watchers = [asyncio.create_task(p.evaluate(WATCH, run)) for p in pages]
            while True:
                message = json.loads(await socket.recv())
                if message.get("stream_id") == run and message.get("type") == "RunRequested":
                    plain.append(time.time() * 1000 - answered)
                    break
            for seen in await asyncio.gather(*watchers):
                dom.append(max(0.0, seen - answered))
            await asyncio.sleep(0.2)
    return dom, plain


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--updates", type=int, default=40)
    asyncio.run(bench(parser.parse_args()))


if __name__ == "__main__":
    main()
