"""The flowledger roles a bench runs as processes of their own, as in production: started with
their logs in a folder, awaited until the API is ready and the runners have registered, stopped
at the end."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx


@contextlib.asynccontextmanager
async def role_processes(
    env: dict[str, str], commands: list[list[str]], logs: Path
) -> AsyncIterator[list[asyncio.subprocess.Process]]:
    """Each command as `python -m adapters.cli.main <command>`, its output in
    `logs/<role>-<i>.log`; stopped at the end, the last first (list runners last)."""
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
        yield started
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
    """Until the API answers /ready and `runners` runners have registered."""
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
