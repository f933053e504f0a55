"""`flowledger projections status|rebuild|quarantine` as a user runs them, on a test database."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from adapters.bootstrap import open_services
from adapters.platform.secrets import SecretBox
from adapters.platform.settings import Settings
from adapters.store import EventStore
from commands import projects
from commands.context import CommandContext, Principal
from projections import checkpoints
from projections.projects import ProjectsProjection
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


async def test_quarantine_list_retry_and_skip_as_an_operator_runs_them(
    fresh_database_url: str, nats_url: str, tmp_path: Path
) -> None:
    url = fresh_database_url
    settings = Settings(database_url=url, data_dir=tmp_path, cipher_key=SecretBox.generate_key())
    admin = Principal(id="key:t", name="t", project_id=None, scopes=frozenset({"admin"}))
    async with open_services(settings, url) as services:
        ids = []
        for slug in ("cured", "dropped"):
            context = CommandContext(principal=admin, at=datetime.now(UTC), correlation_id=slug)
            command = projects.CreateProject(name=slug, slug=unique_id(f"{slug}-"))
            ids.append((await services.bus.dispatch(command, context)).id)
    cured, dropped = ids
    conn = await asyncpg.connect(url)
    try:
        # As the runtime leaves a view whose handler failed on both projects' first events.
        await checkpoints.ensure(conn, ProjectsProjection())
        head = await conn.fetchval("SELECT max(position) FROM events")
        await conn.execute(
            "UPDATE projection_checkpoints SET position = $1 WHERE name = 'projects'", head
        )
        await conn.execute(
            "INSERT INTO projection_quarantine (projection, position, event_id, stream_id, type, "
            "status, error, error_class) SELECT 'projects', position, event_id, stream_id, type, "
            "'poison', 'boom', 'KeyError' FROM events WHERE stream_id = ANY($1::text[])",
            ids,
        )

        code, out, err = await flowledger(url, nats_url, "projections", "quarantine", "list")
        assert code == 0, err
        assert f"projects  stream {cured}" in out and "poison" in out and "KeyError: boom" in out
        code, out, _ = await flowledger(
            url, nats_url, "projections", "quarantine", "list", "--json", "--stream", dropped
        )
        assert [e["stream_id"] for e in json.loads(out)] == [dropped]
        code, out, _ = await flowledger(url, nats_url, "projections", "status")
        (line,) = [line for line in out.splitlines() if line.startswith("projects")]
        assert "2 (2 streams, from" in line

        at = {
            stream: await conn.fetchval("SELECT position FROM events WHERE stream_id = $1", stream)
            for stream in ids
        }
        # The projector acts on each decision where it falls in the feed.
        async with running(Projector(url, [ProjectsProjection()])):
            retried = await flowledger(
                url, nats_url, "projections", "quarantine", "retry", "projects", str(at[cured]),
                "--actor", "ann",
            )  # fmt: skip
            assert retried[0] == 0 and "whole again" in retried[2], retried
            no_reason = await flowledger(
                url, nats_url, "projections", "quarantine", "skip", "projects", str(at[dropped])
            )
            assert no_reason[0] == 2 and "--reason" in no_reason[2]
            skipped = await flowledger(
                url, nats_url, "projections", "quarantine", "skip", "projects", str(at[dropped]),
                "--reason", "created by mistake", "--actor", "bob", "--json",
            )  # fmt: skip
            assert skipped[0] == 0, skipped
            shown = json.loads(skipped[1])
            assert (shown["action"], shown["stream_id"], shown["outcome"]["outcome"]) == (
                "skip",
                dropped,
                "applied",
            )
            again = await flowledger(
                url, nats_url, "projections", "quarantine", "retry", "projects", str(at[dropped])
            )
            assert again[0] == 1 and "not found" in again[2], again
            unknown = await flowledger(
                url, nats_url, "projections", "quarantine", "retry", "nope", str(at[dropped])
            )
            assert unknown[0] == 1 and "projection nope not found" in unknown[2], unknown

        rows = await conn.fetch("SELECT id::text FROM rm_projects.projects")
        assert [r["id"] for r in rows] == [cured], "retried: applied; skipped: left out"
        assert not await conn.fetchval("SELECT count(*) FROM projection_quarantine")
        decisions = await conn.fetch(
            "SELECT type, metadata->>'actor' AS actor, data FROM events "
            "WHERE stream_type = 'projection' AND type <> 'ProjectionQuarantineOpened' "
            "ORDER BY position"
        )
        assert [(d["type"], d["actor"], json.loads(d["data"])["reason"]) for d in decisions] == [
            ("ProjectionRetryRequested", "ann", "retry after a fix"),
            ("ProjectionEventSkipped", "bob", "created by mistake"),
        ]
    finally:
        await conn.close()
