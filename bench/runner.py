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
(g) projection checkpoint moves per run (rows of projection_checkpoints updated: a batch
    of a view or a process manager each), in the saturated and the paced phase, and the
    paced phase's transactions per run.
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
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":
    # As a script, bench/ leads sys.path and this file would shadow the `commands` package.
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
    sys.path.insert(0, str(ROOT))

import httpx

from adapters.bootstrap import open_services
from adapters.platform.admin_key import create_key
from adapters.platform.settings import load_settings
from bench._databases import fresh_database
from bench._http_load import free_port
from bench._role_processes import ready
from bench._runner_baselines import (
    checkouts_ms,
    command_round_trips_ms,
    direct_spawns_ms,
    git_clones_ms,
    local_repository,
)
from bench._runner_report import report, report_checkout, report_cpu
from bench._runner_roles import (
    LABEL,
    checkpoint_moves,
    postmaster_pid,
    processes,
    role_cpu,
    transactions,
)
from bench._runner_runs import closed_loop, overheads_ms, paced

CHECKOUTS_ALONE = 30
"""Checkouts timed one at a time, beside as many `git clone`s of the same repository."""
COLD_CHECKOUTS = 10
"""Checkouts of a repository the runners' mirrors have not seen, each beside a clone of it."""


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
        moved = await checkpoint_moves(database_url)
        ids, seconds = await closed_loop(
            api, pipeline, admin, env["FLOWLEDGER_NATS_URL"], args.runs, clients
        )
        after, ended = role_cpu(pids, postmaster), await transactions(database_url)
        moves = [(await checkpoint_moves(database_url) - moved) / len(ids)]
        cpu = {role: (after[role] - before[role]) * 1000 / len(ids) for role in after}
        cpu["transactions"] = (ended - began) / len(ids)
        overhead = await overheads_ms(database_url, ids)
        rate = args.pace * len(ids) / seconds
        began, moved = await transactions(database_url), await checkpoint_moves(database_url)
        paced_ids = await paced(api, pipeline, admin, env["FLOWLEDGER_NATS_URL"], args.runs, rate)
        paced_xacts = (await transactions(database_url) - began) / len(paced_ids)
        moves.append((await checkpoint_moves(database_url) - moved) / len(paced_ids))
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
    print(
        f"(g) checkpoint moves per run, saturated {moves[0]:5.1f}, paced {moves[1]:5.1f}; "
        f"paced transactions per run {paced_xacts:5.1f}"
    )
    if checkout is not None:
        report_checkout(args.repo_files, *checkout)


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
