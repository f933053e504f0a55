"""Artifacts: a 200 MB file and 2,000 small files through flowledger, against the same bytes
through the NATS object store directly and against `cp` on local disk, in one run.

    uv run python bench/artifacts.py [--big-mb 200] [--small 2000] [--small-kb 4] [--rounds 3]

Each role is a process of its own (`flowledger api`, `projector`, `relay`, `dispatcher`,
`runner`) over fresh embedded servers. A pipeline's step `make` hard-links the prepared bytes
into its workspace (no copy) and declares them as its artifact; a step `take` downloads it
into a clean workspace. Timed, per data set:

- flowledger upload: the end of `make`'s script (its own clock) to its ArtifactUploaded event
  (the database's clock, same host): the runner packs (one tar for the small files), streams
  it to the object store and records it through the API.
- flowledger download: `take`'s StepStarted to the first line of its script: the runner
  fetches the artifact (and unpacks the tar) before the script starts.
- flowledger API download: GET .../artifacts/{name}, streamed to a file here.
- direct: nats-py's object store in this process, `put` of the file (of each small file, and
  of one tar of them made and unpacked by GNU tar, as the runner does) and
  `get(..., writeinto=file)`.
- cp: `cp` of the file, `cp -r` of the small files' folder, on the same disk.

Each measure is taken `--rounds` times, flowledger and the baselines interleaved, and the
best of each is shown (on a shared machine, noise only ever adds). Ratios are direct time /
flowledger time (1.0 = as fast; target >= 0.7). The runner's memory
is its peak resident set (VmHWM, /proc) and its growth over the RSS it had before the first
transfer (target: peak < 100 MB).
"""

# ruff: noqa: E402  (the imports after the sys.path fix below)
from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
    sys.path.insert(0, str(ROOT))

import asyncpg
import httpx
import msgspec
import nats

from adapters.bootstrap import open_services
from adapters.platform.admin_key import create_key
from adapters.platform.settings import load_settings
from bench._databases import fresh_database
from bench._http_load import free_port

LABEL = "bench-files"
MB = 1024 * 1024


def memory(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    return 0


def make_data(folder: Path, big_mb: int, small: int, small_kb: int) -> tuple[Path, Path]:
    big = folder / "big.bin"
    with big.open("wb") as file:
        for _ in range(big_mb):
            file.write(os.urandom(MB))
    smalls = folder / "small"
    for i in range(small):
        sub = smalls / f"d{i % 20:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"f{i:05d}.txt").write_bytes(os.urandom(small_kb * 1024))
    return big, smalls


@contextlib.asynccontextmanager
async def roles(env: dict[str, str], token: str, logs: Path) -> AsyncIterator[int]:
    """The roles as processes; yields the runner's pid."""
    runner = ["runner", "--name", "bench-files", "--labels", LABEL, "--token", token]
    commands = [["api"], ["projector"], ["relay"], ["dispatcher"], runner]
    started = []
    for command in commands:
        out = (logs / f"{command[0]}.log").open("wb")
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "adapters.cli.main", *command,
            env=env, cwd=logs, stdout=out, stderr=out,
        )  # fmt: skip
        started.append(process)
    try:
        yield started[-1].pid
    finally:
        for process in reversed(started):
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()


async def ready(api: httpx.AsyncClient, database_url: str) -> None:
    async with asyncio.timeout(120):
        while True:
            with contextlib.suppress(httpx.TransportError):
                if (await api.get("/ready")).status_code == 200:
                    break
            await asyncio.sleep(0.2)
        while True:
            conn = await asyncpg.connect(database_url)
            try:
                found = await conn.fetchval("SELECT count(*) FROM events WHERE type = "
                                            "'RunnerRegistered'")  # fmt: skip
            finally:
                await conn.close()
            if found:
                return
            await asyncio.sleep(0.2)


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


def best(figures: Iterable[dict[str, float]]) -> dict[str, float]:
    """Each figure's best (lowest) over the rounds: the machine's noise only ever adds."""
    found: dict[str, float] = {}
    for one in figures:
        for key, value in one.items():
            found[key] = min(found.get(key, value), value)
    return found


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


async def direct(
    nats_url: str, big: Path, smalls: Path, scratch: Path, *, per_file: bool
) -> dict[str, float]:
    """The object store used directly. `per_file`: also each small file as an object of its own
    (slow: it runs in the first round only)."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    store = await js.create_object_store("bench-direct")
    out: dict[str, float] = {}
    try:
        began = time.perf_counter()
        with big.open("rb") as file:
            await store.put("big", file)
        out["big upload"] = time.perf_counter() - began
        began = time.perf_counter()
        with (scratch / "big.out").open("wb") as file:
            await store.get("big", writeinto=file)
        out["big download"] = time.perf_counter() - began
        if per_file:
            files = await asyncio.to_thread(
                lambda: sorted(p for p in smalls.rglob("*") if p.is_file())
            )
            began = time.perf_counter()
            for path in files:
                with path.open("rb") as file:
                    await store.put(str(path.relative_to(smalls)), file)
            out["small upload"] = time.perf_counter() - began
            spent = 0.0
            for n, path in enumerate(files, 1):
                target = scratch / "small.out" / path.relative_to(smalls)
                target.parent.mkdir(parents=True, exist_ok=True)
                began = time.perf_counter()
                with target.open("wb") as file:
                    await store.get(str(path.relative_to(smalls)), writeinto=file)
                spent += time.perf_counter() - began
                if n % 200 == 0:
                    await _drop_consumers(js, "OBJ_bench-direct")  # untimed
            out["small download"] = spent
        began = time.perf_counter()
        archive = scratch / "small.tar"
        await asyncio.to_thread(subprocess.run, ["tar", "-cf", str(archive), "-C",
                                str(smalls.parent), smalls.name], check=True)  # fmt: skip
        with archive.open("rb") as file:
            await store.put("small.tar", file)
        out["small tar upload"] = time.perf_counter() - began
        began = time.perf_counter()
        with archive.open("wb") as file:
            await store.get("small.tar", writeinto=file)
        (scratch / "small.tar.out").mkdir()
        await asyncio.to_thread(subprocess.run, ["tar", "-xf", str(archive), "-C",
                                str(scratch / "small.tar.out")], check=True)  # fmt: skip
        out["small tar download"] = time.perf_counter() - began
    finally:
        await js.delete_object_store("bench-direct")
        await nc.close()
    return out


async def _drop_consumers(js: Any, stream: str) -> None:
    """nats-py's `get` leaves each object's ordered consumer to expire on its own: thousands
    at once reach the server's limit, so the ones left are removed (outside the timing)."""
    for info in await js.consumers_info(stream):
        with contextlib.suppress(Exception):
            await js.delete_consumer(stream, info.name)


def copies(big: Path, smalls: Path, scratch: Path) -> dict[str, float]:
    out = {}
    for what, source, flags in (("big", big, []), ("small", smalls, ["-r"])):
        target = scratch / f"{what}.cp"
        began = time.perf_counter()
        subprocess.run(["cp", *flags, str(source), str(target)], check=True)
        out[what] = time.perf_counter() - began
    return out


async def bench(args: argparse.Namespace, env: dict[str, str], server_url: str) -> None:
    database_url = await fresh_database(server_url, crud=False)
    env = env | {"FLOWLEDGER_DATABASE_URL": database_url}
    data_dir = Path(env["FLOWLEDGER_DATA_DIR"])
    settings = load_settings(env, cwd=data_dir)
    async with open_services(settings, database_url) as services:
        now = datetime.now().astimezone()
        _, admin_token = await create_key(services, name="bench", scopes=("admin",),
                                          project_id=None, at=now)  # fmt: skip
        _, runner_token = await create_key(services, name="bench runner", scopes=("runner",),
                                           project_id=None, at=now)  # fmt: skip
    admin = {"X-API-Key": admin_token}
    source = data_dir / "source"
    source.mkdir()
    big, smalls = make_data(source, args.big_mb, args.small, args.small_kb)
    marks = data_dir / "marks"
    marks.mkdir()
    api_url = f"http://127.0.0.1:{env['FLOWLEDGER_PORT']}"
    async with (
        roles(env, runner_token, data_dir) as runner_pid,
        httpx.AsyncClient(base_url=api_url, timeout=120) as api,
    ):
        await ready(api, database_url)
        answer = await api.post("/api/v1/projects", headers=admin,
                                json={"name": "bench", "slug": "bench"})  # fmt: skip
        project = answer.json()["id"]
        # Warm-up: buckets, consumers, connections.
        await through_flowledger(
            api, admin, project, database_url, "warm", "echo warm > w.txt", ["w.txt"],
            marks, data_dir / "w.out",
        )  # fmt: skip
        rss_before = memory(runner_pid, "VmRSS")
        rounds: list[tuple[dict[str, float], ...]] = []
        for n in range(args.rounds):
            ours_big = await through_flowledger(
                api, admin, project, database_url, f"big-{n}", f"ln {big} big.bin",
                ["big.bin"], marks, data_dir / "big.api",
            )  # fmt: skip
            ours_small = await through_flowledger(
                api, admin, project, database_url, f"small-{n}", f"cp -al {smalls} small",
                ["small/**/*"], marks, data_dir / "small.api",
            )  # fmt: skip
            scratch = data_dir / f"scratch-{n}"
            scratch.mkdir()
            theirs = await direct(env["FLOWLEDGER_NATS_URL"], big, smalls, scratch,
                                  per_file=n == 0)  # fmt: skip
            cp = await asyncio.to_thread(copies, big, smalls, scratch)
            await asyncio.to_thread(shutil.rmtree, scratch)
            rounds.append((ours_big, ours_small, theirs, cp))
        rss_peak = memory(runner_pid, "VmHWM")
    ours_big, ours_small, theirs, cp = (best(r[i] for r in rounds) for i in range(4))
    report(args, ours_big, ours_small, theirs, cp, rss_before, rss_peak)


def report(
    args: argparse.Namespace,
    big: dict[str, float],
    small: dict[str, float],
    direct_s: dict[str, float],
    cp: dict[str, float],
    rss_before: int,
    rss_peak: int,
) -> None:
    def row(label: str, ours: float, baseline: float, against: str, nbytes: float) -> None:
        rate = nbytes / MB / ours if ours > 0 else float("inf")
        ratio = baseline / ours if ours > 0 else float("inf")
        flag = "" if against != "direct" else ("  ok" if ratio >= 0.7 else "  BELOW 0.7x")
        print(f"  {label:<34} {ours:7.2f} s {rate:8.1f} MB/s   {against} {baseline:6.2f} s"
              f"   ratio {ratio:5.2f}x{flag}")  # fmt: skip

    print(f"\n200 MB file ({big['bytes'] / MB:.0f} MB):")
    row("flowledger upload (runner)", big["upload"], direct_s["big upload"], "direct", big["bytes"])
    row("flowledger download (runner)", big["download"], direct_s["big download"], "direct",
        big["bytes"])  # fmt: skip
    row("flowledger download (API, HTTP)", big["api download"], direct_s["big download"],
        "direct", big["bytes"])  # fmt: skip
    row("flowledger upload vs cp", big["upload"], cp["big"], "cp", big["bytes"])
    print(f"\n{args.small} small files of {args.small_kb} KiB (one tar of "
          f"{small['bytes'] / MB:.1f} MB through flowledger):")  # fmt: skip
    row("flowledger upload (runner)", small["upload"], direct_s["small upload"],
        "direct", small["bytes"])  # fmt: skip
    row("flowledger download (runner)", small["download"], direct_s["small download"],
        "direct", small["bytes"])  # fmt: skip
    row("  vs direct, one tar by hand: up", small["upload"], direct_s["small tar upload"],
        "direct", small["bytes"])  # fmt: skip
    row("  vs direct, one tar by hand: down", small["download"], direct_s["small tar download"],
        "direct", small["bytes"])  # fmt: skip
    row("flowledger upload vs cp -r", small["upload"], cp["small"], "cp", small["bytes"])
    verdict = "ok" if rss_peak < 100 * MB else "ABOVE 100 MB"
    growth = (rss_peak - rss_before) / MB
    print(f"\nrunner memory: RSS before the transfers {rss_before / MB:.1f} MB, peak (VmHWM) "
          f"{rss_peak / MB:.1f} MB [{verdict}], growth {growth:.1f} MB")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--big-mb", type=int, default=200)
    parser.add_argument("--small", type=int, default=2000)
    parser.add_argument("--small-kb", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved; the best of each")
    args = parser.parse_args()

    from bench._servers import bench_servers

    with bench_servers() as (_, urls, env):
        env |= {"FLOWLEDGER_PORT": str(free_port()), "FLOWLEDGER_TRACES_EXPORTER": "none"}
        asyncio.run(bench(args, env, urls.database_url))


if __name__ == "__main__":
    main()
