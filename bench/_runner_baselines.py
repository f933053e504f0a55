"""The runner bench's baselines: the step spawned directly, one API command, and checkouts of a
local repository beside `git clone`s of it."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx


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
