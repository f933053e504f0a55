"""Runner overhead: run requested -> step started, against spawning the same step directly.

    uv run python bench/runner.py [--runs 500] [--runners 2] [--concurrency 4] [--pace F]
                                  [--burst]

Each role is a process of its own, as in production: `flowledger api`, `projector`, `relay`,
`dispatcher`, and `--runners` x `flowledger runner --concurrency N`, over a fresh database.
The pipeline has one step, `true`. Two phases of `--runs` runs each:

- saturated: runners x concurrency closed-loop clients (each triggers a run, waits for its
  RunSucceeded on NATS, triggers the next). A run never waits for a free runner slot, but
  every process is kept as busy as it can be: this gives runs/s, and the overhead with
  everything queueing for the CPU.
- paced: runs requested at a steady rate, `--pace` times the saturated runs/s (default 0.5),
  whatever came of the earlier ones: the overhead of the dispatch path itself.

(a) overhead: RunRequested -> StepStarted, from the events' recorded times (the database's
    clock), in legs: -> StepDispatched (the dispatcher decides), -> the job published on
    JetStream (seen by a core NATS subscriber here, same host clock), -> StepStarted (the
    runner pulls the job and reports it running through the API).
(b) baseline: the same `bash -e step.sh` (`true`) spawned directly by asyncio and waited
    for, as many times, in this process, in the same run.
(c) context: one command through the API, alone (the runner leg holds one: its "running" report).
(e) CPU per run in the saturated phase, by process: each role (a runner with the steps it
    spawned), and the embedded PostgreSQL's backends (not when FLOWLEDGER_DATABASE_URL is set).
(f) PostgreSQL transactions committed per run in the saturated phase (a statement outside a
    transaction counts as one), from pg_stat_database: steadier than CPU on a busy machine.
With --burst, also runs/s when every run is requested at once.
With --checkout, a third phase (paced like the second) runs a step with `checkout: true` of a
local repository (--repo-files files, over file://): (a) for it; then 30 such runs one at a
time, whose checkout time the runner records (StepCheckedOut), beside (d) `git clone --depth 1`
and a full `git clone` of the same repository over the same URL, run directly here as many
times, one at a time: the runner's mirror of the repository is warm. Then 10 checkouts each
of a fresh copy of the repository (a cold mirror), each followed by a `git clone --depth 1`
of the same copy.
Targets: p50 overhead < 50 ms, p99 < 250 ms (judged for each phase). Uses FLOWLEDGER_DATABASE_URL /
FLOWLEDGER_NATS_URL when set, else embedded servers in a temp folder.
"""

# ruff: noqa: E402  (the imports after the sys.path fix below)
from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":
    # As a script, bench/ leads sys.path and this file would shadow the `commands` package.
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
    sys.path.insert(0, str(ROOT))

import asyncpg
import httpx
import msgspec
import nats

from adapters.bootstrap import open_services
from adapters.platform.admin_key import create_key
from adapters.platform.settings import load_settings
from bench._http_load import free_port
from bench.append import server_cpu
from bench.commands import fresh_database

LABEL = "bench"
CHECKOUTS_ALONE = 30
"""Checkouts timed one at a time, beside as many `git clone`s of the same repository."""
COLD_CHECKOUTS = 10
"""Checkouts of a repository the runners' mirrors have not seen, each beside a clone of it."""
PREFIX = "flowledger.events"
JOBS = "flowledger.jobs"
PUBLISHED: dict[str, datetime] = {}
"""When each run's job was published (this process's clock, the same host as the database)."""


def role_cpu(pids: dict[str, int], postmaster: int | None) -> dict[str, float]:
    """CPU seconds so far of each role (with its reaped children) and of PostgreSQL."""
    found = {}
    for role, pid in pids.items():
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            found[role] = sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    if postmaster is not None:
        found["postgres"] = server_cpu(postmaster)
    return found


async def transactions(database_url: str) -> int:
    """Transactions committed in the bench's database so far (a statement alone is one)."""
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetchval(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        )
    finally:
        await conn.close()


def postmaster_pid(data_dir: Path, database_url: str) -> int | None:
    """The embedded PostgreSQL's postmaster, when the bench started it."""
    if os.environ.get("FLOWLEDGER_DATABASE_URL"):
        return None
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int((data_dir / "postgres" / "postmaster.pid").read_text().split()[0])
    return None


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@contextlib.asynccontextmanager
async def processes(
    env: dict[str, str], runners: int, concurrency: int, token: str, logs: Path
) -> AsyncIterator[dict[str, int]]:
    """The roles, each `python -m adapters.cli.main <role>`; killed at the end."""
    commands = [["api"], ["projector"], ["relay"], ["dispatcher"]] + [
        [
            "runner",
            "--name",
            f"bench-{i}",
            "--labels",
            LABEL,
            "--concurrency",
            str(concurrency),
            "--token",
            token,
        ]
        for i in range(runners)
    ]
    started = []
    for command in commands:
        out = (logs / f"{command[0]}-{len(started)}.log").open("wb")
        started.append(
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "adapters.cli.main",
                *command,
                env=env,
                cwd=logs,
                stdout=out,
                stderr=out,
            )
        )
    try:
        yield {f"{c[0]}-{i}" if c[0] == "runner" else c[0]: p.pid
               for i, (c, p) in enumerate(zip(commands, started, strict=True))}  # fmt: skip
    finally:
        # Runners first, so they can still deregister through the API.
        for process in reversed(started):
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()


async def ready(api: httpx.AsyncClient, database_url: str, runners: int) -> None:
    async with asyncio.timeout(120):
        while True:
            with contextlib.suppress(httpx.TransportError):
                if (await api.get("/ready")).status_code == 200:
                    break
            await asyncio.sleep(0.2)
        while True:
            conn = await asyncpg.connect(database_url)
            try:
                count = await conn.fetchval(
                    "SELECT count(*) FROM events WHERE type = 'RunnerRegistered'"
                )
            finally:
                await conn.close()
            if count >= runners:
                return
            await asyncio.sleep(0.2)


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


def local_repository(folder: Path, files: int) -> tuple[str, str]:
    """A bare repository with one commit of `files` small files; its file:// URL and sha."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.invalid",
           "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.invalid"}  # fmt: skip
    work, bare = folder / "work", folder / "origin.git"
    folder.mkdir(parents=True, exist_ok=True)

    def git(*args: str, cwd: Path = folder) -> str:
        return subprocess.run(["git", *args], cwd=cwd, env=env, check=True,
                              capture_output=True, text=True).stdout.strip()  # fmt: skip

    git("init", "-q", "--bare", "-b", "main", str(bare))
    git("init", "-q", "-b", "main", str(work))
    for i in range(files):
        (work / f"src/{i % 20}").mkdir(parents=True, exist_ok=True)
        (work / f"src/{i % 20}/file{i}.py").write_text(f"VALUE = {i}\n" * 40)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "bench", cwd=work)
    git("push", "-q", str(bare), "HEAD:refs/heads/main", cwd=work)
    return bare.as_uri(), git("rev-parse", "HEAD", cwd=work)


async def checkouts_ms(database_url: str, run_ids: list[str]) -> list[float]:
    """The checkout time each run's step recorded (StepCheckedOut.duration_ms)."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT (data::jsonb ->> 'duration_ms')::float AS ms FROM events "
            "WHERE type = 'StepCheckedOut' AND stream_id = ANY($1)",
            run_ids,
        )
    finally:
        await conn.close()
    return [r["ms"] for r in rows]


async def git_clones_ms(url: str, count: int, *args: str) -> list[float]:
    """The baseline: `git clone <args> url` of the same repository, directly, `count` times."""
    folder = Path(tempfile.mkdtemp(prefix="flowledger-bench-clone-"))
    times = []
    try:
        for i in range(count):
            started = time.perf_counter()
            process = await asyncio.create_subprocess_exec(
                "git", "clone", "-q", *args, url, str(folder / str(i)),
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            assert await process.wait() == 0
            times.append((time.perf_counter() - started) * 1000)
            shutil.rmtree(folder / str(i))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return times


async def command_round_trips_ms(
    api: httpx.AsyncClient, admin: dict[str, str], count: int
) -> list[float]:
    """Context for the runner leg: one command through the API (it appends one event)."""
    times = []
    for i in range(count):
        started = time.perf_counter()
        answer = await api.post(
            "/api/v1/projects", json={"name": "rt", "slug": f"rt-{i}"}, headers=admin
        )
        answer.raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    return times


async def direct_spawns_ms(count: int) -> list[float]:
    """The baseline: the runner's own way of running the step, minus everything around it."""
    folder = Path(tempfile.mkdtemp(prefix="flowledger-bench-spawn-"))
    script = folder / "step.sh"
    script.write_text("true\n")
    times = []
    try:
        for _ in range(count):
            started = time.perf_counter()
            process = await asyncio.create_subprocess_exec(
                "bash",
                "-e",
                str(script),
                cwd=folder,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
            await process.communicate()
            times.append((time.perf_counter() - started) * 1000)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return times


async def bench(args: argparse.Namespace, env: dict[str, str], server_url: str) -> None:
    database_url = await fresh_database(server_url, crud=False)
    env = env | {"FLOWLEDGER_DATABASE_URL": database_url}
    settings = load_settings(env, cwd=Path(env["FLOWLEDGER_DATA_DIR"]))
    async with open_services(settings, database_url) as services:
        now = datetime.now(UTC)
        _, admin_token = await create_key(
            services, name="bench", scopes=("admin",), project_id=None, at=now
        )
        _, runner_token = await create_key(
            services, name="bench runners", scopes=("runner",), project_id=None, at=now
        )
    admin = {"X-API-Key": admin_token}
    logs = Path(env["FLOWLEDGER_DATA_DIR"])
    api_url = f"http://127.0.0.1:{env['FLOWLEDGER_PORT']}"
    postmaster = postmaster_pid(logs, database_url)
    async with (
        processes(env, args.runners, args.concurrency, runner_token, logs) as pids,
        httpx.AsyncClient(base_url=api_url, timeout=30) as api,
    ):
        await ready(api, database_url, args.runners)
        project = (
            await api.post(
                "/api/v1/projects", headers=admin, json={"name": "bench", "slug": "bench"}
            )
        ).json()["id"]
        body = {
            "project_id": project,
            "name": "one-step",
            "steps": [{"name": "only", "run": "true", "labels": [LABEL]}],
        }
        pipeline = (await api.post("/api/v1/pipelines", json=body, headers=admin)).json()["id"]
        clients = args.clients or args.runners * args.concurrency
        # Warm-up: connections, caches, the first JetStream consumer round trips.
        await closed_loop(api, pipeline, admin, env["FLOWLEDGER_NATS_URL"], clients * 2, clients)
        before, began = role_cpu(pids, postmaster), await transactions(database_url)
        ids, seconds = await closed_loop(
            api, pipeline, admin, env["FLOWLEDGER_NATS_URL"], args.runs, clients
        )
        after, ended = role_cpu(pids, postmaster), await transactions(database_url)
        cpu = {role: (after[role] - before[role]) * 1000 / len(ids) for role in after}
        cpu["transactions"] = (ended - began) / len(ids)
        overhead = await overheads_ms(database_url, ids)
        rate = args.pace * len(ids) / seconds
        paced_ids = await paced(api, pipeline, admin, env["FLOWLEDGER_NATS_URL"], args.runs, rate)
        steady = await overheads_ms(database_url, paced_ids)
        phases = {"saturated": overhead, f"paced, {rate:.1f} runs/s": steady}
        checkout = None
        if args.checkout:
            url, sha = local_repository(logs / "bench-repo", args.repo_files)
            body = {
                "project_id": project,
                "name": "checkout",
                "steps": [{"name": "only", "run": "true", "labels": [LABEL], "checkout": True}],
            }
            answer = await api.post("/api/v1/pipelines", json=body, headers=admin)
            with_checkout = answer.json()["id"]
            source = {"clone_url": url, "sha": sha, "ref": "refs/heads/main"}
            checkout_ids = await paced(
                api, with_checkout, admin, env["FLOWLEDGER_NATS_URL"], args.runs, rate, source
            )
            phases[f"paced with checkout, {rate:.1f} runs/s"] = await overheads_ms(
                database_url, checkout_ids
            )
            # Timed one run at a time, as the clones below are: alone on the machine.
            alone, _ = await closed_loop(
                api, with_checkout, admin, env["FLOWLEDGER_NATS_URL"], CHECKOUTS_ALONE, 1, source
            )
            recorded = await checkouts_ms(database_url, alone)
            shallow = await git_clones_ms(url, len(recorded), "--depth", "1")
            full = await git_clones_ms(url, len(recorded))
            # Cold: each run checks out a fresh copy (a URL no runner mirror has seen yet),
            # interleaved with a `git clone --depth 1` of that same copy.
            cold_ids, cold_clones = [], []
            for i in range(COLD_CHECKOUTS):
                copy = logs / f"bench-repo-cold-{i}.git"
                shutil.copytree(Path(url.removeprefix("file://")), copy)
                fresh = {**source, "clone_url": copy.as_uri()}
                one, _ = await closed_loop(
                    api, with_checkout, admin, env["FLOWLEDGER_NATS_URL"], 1, 1, fresh
                )
                cold_ids += one
                cold_clones += await git_clones_ms(copy.as_uri(), 1, "--depth", "1")
            cold = (await checkouts_ms(database_url, cold_ids), cold_clones)
            checkout = (recorded, shallow, full, cold)
        commands = await command_round_trips_ms(api, admin, min(args.runs, 200))
        burst = None
        if args.burst:
            burst = await closed_loop(
                api, pipeline, admin, env["FLOWLEDGER_NATS_URL"], args.runs, args.runs
            )
    spawn = await direct_spawns_ms(args.runs)
    report(args, len(ids), seconds, phases, spawn, commands, burst)
    report_cpu(cpu)
    if checkout is not None:
        report_checkout(args.repo_files, *checkout)


def report(
    args: argparse.Namespace,
    runs: int,
    seconds: float,
    phases: dict[str, dict[str, list[float]]],
    spawn: list[float],
    commands: list[float],
    burst: tuple[list[str], float] | None,
) -> None:
    b50, b99 = percentile(spawn, 0.5), percentile(spawn, 0.99)
    print(
        f"{args.runners} runners x concurrency {args.concurrency}, {runs} runs of `true` per "
        f"phase, {args.clients or args.runners * args.concurrency} closed-loop clients; "
        f"{os.cpu_count()} CPUs"
    )
    print(f"runs/s (saturated, closed loop)    {runs / seconds:8.1f}")
    if burst is not None:
        print(f"runs/s (all {len(burst[0])} requested at once)  {len(burst[0]) / burst[1]:8.1f}")
    for phase, legs in phases.items():
        overhead = legs["total"]
        a50, a99 = percentile(overhead, 0.5), percentile(overhead, 0.99)
        print(f"-- {phase}")
        print(
            f"(a) requested -> step started  p50 {a50:7.1f} ms   p99 {a99:7.1f} ms   "
            f"(mean {statistics.fmean(overhead):.1f}, n={len(overhead)})"
        )
        for leg, what in (
            ("dispatched", "requested -> dispatched"),
            ("published", "dispatched -> published"),
            ("runner", "published -> started"),
        ):
            print(
                f"    {what:<27}p50 {percentile(legs[leg], 0.5):7.1f} ms   "
                f"p99 {percentile(legs[leg], 0.99):7.1f} ms"
            )
        print(f"a/b                             p50 {a50 / b50:7.1f} x    p99 {a99 / b99:7.1f} x")
        print(
            f"targets: p50 < 50 ms: {'met' if a50 < 50 else 'NOT met'}; "
            f"p99 < 250 ms: {'met' if a99 < 250 else 'NOT met'}"
        )
    print("--")
    print(
        f"(b) spawn `bash -e` directly    p50 {b50:7.1f} ms   p99 {b99:7.1f} ms   (n={len(spawn)})"
    )
    print(
        f"(c) one API command round trip p50 {percentile(commands, 0.5):7.1f} ms   "
        f"p99 {percentile(commands, 0.99):7.1f} ms   (POST /api/v1/projects, alone)"
    )


def report_cpu(cpu: dict[str, float]) -> None:
    print(f"(f) PostgreSQL transactions per run, saturated {cpu.pop('transactions'):7.1f}")
    runners = sum(ms for role, ms in cpu.items() if role.startswith("runner"))
    parts = [f"{role} {ms:.1f}" for role, ms in cpu.items() if not role.startswith("runner")]
    print(
        f"(e) CPU per run, saturated      {sum(cpu.values()):7.1f} ms: "
        f"{', '.join(parts)}, runners {runners:.1f} (ms)"
    )


def report_checkout(
    files: int,
    recorded: list[float],
    shallow: list[float],
    full: list[float],
    cold: tuple[list[float], list[float]],
) -> None:
    c50, c99 = percentile(recorded, 0.5), percentile(recorded, 0.99)
    print(f"-- checkout of a local repository ({files} files, file://)")
    print(f"step checkout, warm mirror      p50 {c50:7.1f} ms   p99 {c99:7.1f} ms   "
          f"(n={len(recorded)})")  # fmt: skip
    for what, times in (("(d) git clone --depth 1", shallow), ("(d) git clone (full)", full)):
        b50, b99 = percentile(times, 0.5), percentile(times, 0.99)
        print(f"{what:<31} p50 {b50:7.1f} ms   p99 {b99:7.1f} ms   "
              f"checkout/clone p50 {c50 / b50:4.2f} x  p99 {c99 / b99:4.2f} x")  # fmt: skip
    steps, clones = cold
    k50, g50 = percentile(steps, 0.5), percentile(clones, 0.5)
    print(f"step checkout, cold mirror      p50 {k50:7.1f} ms   max {max(steps):7.1f} ms   "
          f"(n={len(steps)})")  # fmt: skip
    print(f"(d) git clone --depth 1, same   p50 {g50:7.1f} ms   max {max(clones):7.1f} ms   "
          f"checkout/clone p50 {k50 / g50:4.2f} x  (interleaved, one fresh copy each)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--runners", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--clients", type=int, default=0, help="closed-loop clients (default runners x concurrency)"
    )
    parser.add_argument(
        "--pace", type=float, default=0.5, help="the paced phase's rate, x saturated runs/s"
    )
    parser.add_argument("--burst", action="store_true", help="also all runs requested at once")
    parser.add_argument(
        "--checkout", action="store_true", help="also a paced phase whose step checks out a repo"
    )
    parser.add_argument("--repo-files", type=int, default=500, help="files in that repository")
    args = parser.parse_args()

    from bench._servers import bench_servers

    with bench_servers() as (_, urls, env):
        env |= {"FLOWLEDGER_PORT": str(free_port()), "FLOWLEDGER_TRACES_EXPORTER": "none"}
        asyncio.run(bench(args, env, urls.database_url))


if __name__ == "__main__":
    main()
