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
import sys
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
    sys.path.insert(0, str(ROOT))

import httpx

from adapters.bootstrap import open_services
from adapters.platform.admin_key import create_key
from adapters.platform.settings import load_settings
from bench._artifact_baselines import copies, direct
from bench._artifact_runs import LABEL, through_flowledger
from bench._databases import fresh_database
from bench._http_load import free_port
from bench._role_processes import ready, role_processes

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
    async with role_processes(env, commands, logs) as started:
        yield started[-1].pid


def best(figures: Iterable[dict[str, float]]) -> dict[str, float]:
    """Each figure's best (lowest) over the rounds: the machine's noise only ever adds."""
    found: dict[str, float] = {}
    for one in figures:
        for key, value in one.items():
            found[key] = min(found.get(key, value), value)
    return found


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
        await ready(api, database_url, 1)
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
