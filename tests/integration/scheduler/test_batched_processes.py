"""Two `flowledger scheduler` processes, on the real clock, firing one busy minute in small
batches they contend for: every slot written once, none missed.

Real processes on a database of the test's own, with a `flowledger projector` process for
the schedules view, as they run in production (the slot is the next whole minute: this test
waits for it)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import asyncpg
import msgspec

from adapters.bootstrap import open_services
from adapters.platform.secrets import SecretBox
from adapters.platform.settings import Settings
from commands import pipelines, projects
from commands.context import CommandContext, Principal
from domain.pipeline_definition import PipelineDefinition
from domain.step_spec import StepSpec
from domain.trigger_spec import TriggerSpec

ROOT = Path(__file__).resolve().parents[3]
ADMIN = Principal(id="key:t", name="t", project_id=None, scopes=frozenset({"admin"}))
SCHEDULES = 120
BATCH = 8
"""Fifteen batches of eight: the two schedulers contend for each one."""


def context() -> CommandContext:
    return CommandContext(principal=ADMIN, at=datetime.now(UTC), correlation_id="test")


@contextlib.asynccontextmanager
async def flowledger(env: dict[str, str], *args: str) -> AsyncIterator[asyncio.subprocess.Process]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adapters.cli.main", *args, cwd=ROOT, env=env
    )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def until(check, what: str, timeout_s: float) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout_s:.0f} s")
        await asyncio.sleep(0.2)


async def test_two_scheduler_processes_fire_a_busy_minute_once_each_in_batches(
    fresh_database_url: str, nats_url: str, tmp_path: Path
) -> None:
    url, key = fresh_database_url, SecretBox.generate_key()
    settings = Settings(database_url=url, data_dir=tmp_path, cipher_key=key)
    async with open_services(settings, url, pool_size=4) as services:
        bus = services.bus.dispatch
        project = await bus(projects.CreateProject(name="busy", slug="busy"), context())
        every_minute = PipelineDefinition(
            name="busy",
            steps=(StepSpec(name="build", run="make"),),
            triggers=(TriggerSpec(source="schedule", cron="* * * * *", schedule="busy"),),
        )
        ids = []
        for i in range(SCHEDULES):
            command = pipelines.CreatePipeline(
                project_id=UUID(project.id),
                definition=msgspec.structs.replace(every_minute, name=f"busy-{i}"),
            )
            ids.append(UUID((await bus(command, context())).id))
    slot = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWLEDGER_")}
    env |= {
        "FLOWLEDGER_DATABASE_URL": url,
        "FLOWLEDGER_NATS_URL": nats_url,
        "FLOWLEDGER_DATA_DIR": str(tmp_path),
        "FLOWLEDGER_CIPHER_KEY": key,
        "FLOWLEDGER_SCHEDULER_BATCH_SIZE": str(BATCH),
        "FLOWLEDGER_LOG_LEVEL": "WARNING",
    }
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    try:

        async def shown() -> bool:
            try:
                count = await pool.fetchval("SELECT count(*) FROM rm_schedules.schedules")
            except asyncpg.UndefinedTableError:
                return False  # the projector has yet to make its view
            return count == len(ids)

        async def fired() -> list[asyncpg.Record]:
            return await pool.fetch(
                "SELECT data::jsonb->>'pipeline_id' AS pipeline,"
                " data::jsonb->'trigger'->>'slot' AS slot, metadata::jsonb->>'actor' AS actor"
                " FROM events WHERE type = 'RunRequested'"
            )

        async with (
            flowledger(env, "projector"),
            flowledger(env, "scheduler"),
            flowledger(env, "scheduler"),
        ):
            await until(shown, "the schedules view showing every schedule", 60)
            wait = (slot - datetime.now(UTC)).total_seconds() + 1
            await asyncio.sleep(max(0.0, wait))

            async def all_fired() -> bool:
                return len({r["pipeline"] for r in await fired()}) == len(ids)

            await until(all_fired, "every slot fired", 60)
            await asyncio.sleep(2)  # a late second write of a slot would show by now
        rows = await fired()
    finally:
        await pool.close()

    per_slot = Counter((r["pipeline"], r["slot"]) for r in rows)
    assert max(per_slot.values()) == 1, "no slot fired twice"
    first = Counter(p for p, s in per_slot if datetime.fromisoformat(s) == slot)
    assert set(first) == {str(i) for i in ids}, "every schedule's slot fired, none missed"
    assert {r["actor"] for r in rows} == {"scheduler"}
