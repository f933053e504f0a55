"""`flowledger projections status` and `rebuild` as a user runs them, against the test database."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import asyncpg

from adapters.store import EventStore
from projections.runtime import Projector
from tests.helpers import unique_id
from tests.integration.projections.counting import (
    ROOT,
    Counts,
    append,
    caught_up,
    running,
    wait_until,
)


async def flowledger(database_url: str, nats_url: str, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWLEDGER_")}
    env |= {"FLOWLEDGER_DATABASE_URL": database_url, "FLOWLEDGER_NATS_URL": nats_url}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adapters.cli.main", *args,
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode, out.decode(), err.decode()


async def test_status_lists_served_projections(
    pool: asyncpg.Pool, database_url: str, nats_url: str
) -> None:
    tick, name = unique_id("Ticked"), unique_id("counts_")
    async with EventStore(database_url, stream_types={"run"}) as store:
        await append(store, tick, [unique_id("cli-")], 4)
    async with running(Projector(database_url, [Counts(name, {tick})], owner="cli:1")):
        await wait_until(lambda: caught_up(pool, name), what="caught up")
        code, out, err = await flowledger(database_url, nats_url, "projections", "status", "--json")
        table_code, table, _ = await flowledger(database_url, nats_url, "projections", "status")

    assert code == 0, err
    shown = {p["name"]: p for p in json.loads(out)}[name]
    assert (shown["state"], shown["owner"], shown["lag_events"]) == ("running", "cli:1", 0)
    assert table_code == 0
    assert table.splitlines()[0].split()[:3] == ["NAME", "VERSION", "POSITION"]
    assert any(line.startswith(name) for line in table.splitlines())


async def test_rebuild_of_an_unknown_projection_names_the_known_ones(
    database_url: str, nats_url: str
) -> None:
    code, _, err = await flowledger(database_url, nats_url, "projections", "rebuild", "nope")

    assert code == 1
    assert "no projection named 'nope'" in err
