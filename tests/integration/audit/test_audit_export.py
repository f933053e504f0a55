"""`flowledger export`: the feed as NDJSON, the same envelopes as the API, in constant memory."""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
import tracemalloc
from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient

from adapters.audit.export import export
from adapters.audit.reads import BATCH, FeedFilters
from adapters.platform.services import Services
from adapters.store.reader import head as head_position
from tests.integration.audit.audit_reads_support import (
    append_logs,
    feed,
    legacy_project,
    ndjson,
    run_world,
)

ROOT = Path(__file__).resolve().parents[3]


class Sink(io.RawIOBase):
    """Counts what is written and keeps none of it."""

    def __init__(self) -> None:
        self.lines = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.lines += bytes(data).count(b"\n")
        return len(data)


async def flowledger(database_url: str, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWLEDGER_")}
    env["FLOWLEDGER_DATABASE_URL"] = database_url
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adapters.cli.main", *args,
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_the_export_holds_the_same_envelopes_as_the_feed(
    client: AsyncTestClient, admin: dict[str, str], services: Services, database_url: str
) -> None:
    after = await head_position(services.store.pool)
    await run_world(client, admin)
    await legacy_project(services)
    out = io.BytesIO()

    report = await export(database_url, out, after=after)

    exported = ndjson(out.getvalue().decode())
    served, _ = await feed(client, admin, after=after, limit=1000)
    assert exported == served
    assert (report.events, report.head) == (len(served), served[-1]["position"])
    assert report.next_after == report.head
    legacy = next(e for e in exported if e["stored_schema_version"] < e["schema_version"])
    assert (legacy["type"], legacy["schema_version"], legacy["data"]["description"]) == (
        "ProjectCreated",
        2,
        "",
    )


async def test_limit_and_filters_and_where_to_resume(
    client: AsyncTestClient, admin: dict[str, str], services: Services, database_url: str
) -> None:
    after = await head_position(services.store.pool)
    world = await run_world(client, admin)
    await append_logs(client, admin, world.run_id, 1, 5)

    first, rest = io.BytesIO(), io.BytesIO()
    report = await export(
        database_url, first, after=after, limit=3, filters=FeedFilters(types=("LogChunkAppended",))
    )
    resumed = await export(
        database_url,
        rest,
        after=report.next_after,
        filters=FeedFilters(types=("LogChunkAppended",), stream_types=("run",)),
    )

    seqs = [e["data"]["seq"] for e in ndjson(first.getvalue().decode())]
    more = [e["data"]["seq"] for e in ndjson(rest.getvalue().decode())]
    assert (seqs, more) == ([1, 2, 3], [4, 5])
    assert report.events == 3 and report.next_after < report.head
    assert resumed.next_after == resumed.head


async def test_memory_does_not_grow_with_the_length_of_the_export(
    client: AsyncTestClient, admin: dict[str, str], services: Services, database_url: str
) -> None:
    after = await head_position(services.store.pool)
    world = await run_world(client, admin)
    await append_logs(client, admin, world.run_id, 1, 6 * BATCH)
    logs = FeedFilters(types=("LogChunkAppended",))

    async def peak(limit: int) -> int:
        sink = Sink()
        tracemalloc.start()
        try:
            await export(database_url, sink, after=after, limit=limit, filters=logs)  # type: ignore[arg-type]
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
            assert sink.lines == limit

    short, long = await peak(2 * BATCH), await peak(6 * BATCH)

    assert long < short * 1.5, f"peak {long} B for 3x the events vs {short} B"


async def test_the_command_writes_a_file_and_says_where_to_resume(
    services: Services, database_url: str, tmp_path: Path
) -> None:
    after = await head_position(services.store.pool)
    project_id = await legacy_project(services)
    target = tmp_path / "events.ndjson"

    code, out, err = await flowledger(
        database_url, "export", "--after", str(after), "--type", "ProjectCreated", "-o", str(target)
    )

    assert code == 0, err
    (line,) = target.read_text().splitlines()
    event = json.loads(line)
    assert (event["stream_id"], event["stored_schema_version"]) == (str(project_id), 1)
    assert out == ""
    assert f"exported 1 events (head {event['position']}); resume with --after" in err


async def test_the_command_refuses_bad_options_before_reading_anything(database_url: str) -> None:
    for options in (["--after", "-1"], ["--limit", "0"], ["--recorded-after", "2026-01-01T00:00"]):
        code, _, err = await flowledger(database_url, "export", *options)
        assert code == 2, options
        assert "flowledger export: error: argument" in err


async def test_an_export_reports_its_progress(
    client: AsyncTestClient, admin: dict[str, str], services: Services, database_url: str
) -> None:
    after = await head_position(services.store.pool)
    await run_world(client, admin)
    heard: list[tuple[int, int]] = []
    report = await export(
        database_url, io.BytesIO(), after=after, progress=lambda d, t: heard.append((d, t))
    )
    assert heard[-1] == (report.head - after, report.head - after)
