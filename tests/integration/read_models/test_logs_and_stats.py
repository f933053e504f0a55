"""The logs and statistics read models from real events."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from adapters.store import NewEvent
from commands import runs
from commands.run_reports import LogChunk
from domain.envelope import EventMetadata
from domain.step_spec import StepSpec
from projections.logs import RUN_CHANNEL, LogTruncation, run_logs
from projections.paging import InvalidQuery
from projections.pipeline_stats import pipeline_analytics, summary
from tests.integration.read_models.conftest import Driver, Projected


async def test_log_chunks_in_order_per_channel_and_across_them(
    driver: Driver, projected: Projected
) -> None:
    project = await driver.project()
    pipeline = await driver.pipeline(project)
    run = await driver.trigger(pipeline)
    await driver.step(run, "build", "running")
    await driver.logs(
        run,
        LogChunk(seq=1, step="build", text="Compiling app\n"),
        LogChunk(seq=1, text="run started\n"),
        LogChunk(seq=2, step="build", stream="stderr", text="warning: 100% unused\n"),
        LogChunk(seq=3, step="build", text="linking app\n"),
    )
    await driver.logs(run, LogChunk(seq=2, text="run done\n"))
    await projected.catch_up()
    schema, pool = projected["logs"], projected.pool

    async def texts(**query: object) -> list[str]:
        page = await run_logs(pool, schema, run, **query)
        return [c.text.strip() for c in page.items]

    assert await texts() == [
        "Compiling app",
        "run started",
        "warning: 100% unused",
        "linking app",
        "run done",
    ]
    assert await texts(step="build") == ["Compiling app", "warning: 100% unused", "linking app"]
    assert await texts(step=RUN_CHANNEL) == ["run started", "run done"]
    assert await texts(step="build", after_seq=1) == ["warning: 100% unused", "linking app"]
    assert await texts(tail=2) == ["linking app", "run done"]
    assert await texts(step="build", tail=1) == ["linking app"]
    assert await texts(q="APP") == ["Compiling app", "linking app"]
    assert await texts(q="100%") == ["warning: 100% unused"]
    assert await texts(q="0_") == []

    first = await run_logs(pool, schema, run, limit=2)
    assert (len(first.items), first.more, first.truncation) == (2, True, None)
    rest = await run_logs(pool, schema, run, after_position=first.items[-1].position)
    assert ([c.seq for c in rest.items], rest.more) == ([2, 3, 2], False)
    chunk = first.items[0]
    assert (chunk.run_id, chunk.step, chunk.seq, chunk.stream) == (run, "build", 1, "stdout")
    with pytest.raises(InvalidQuery) as no_step:
        await run_logs(pool, schema, run, after_seq=1)
    assert no_step.value.parameter == "after_seq"
    assert (await run_logs(pool, schema, UUID(int=3))).items == ()


async def test_statistics_of_a_pipeline_and_the_summary(
    driver: Driver, projected: Projected
) -> None:
    project = await driver.project()
    pipeline = await driver.pipeline(project, steps=(StepSpec(name="build", run="make"),))
    day_one = datetime(2026, 2, 10, 9, tzinfo=UTC)

    for seconds, outcome, on in (
        (10, "succeeded", day_one),
        (20, "succeeded", day_one),
        (30, "failed", day_one),
        (40, "succeeded", day_one + timedelta(days=1)),
    ):
        driver.now = on
        run = await driver.trigger(pipeline)
        await driver.step(run, "build", "running")
        driver.now += timedelta(seconds=seconds - 1)  # the next command ticks one more
        await driver.step(run, "build", outcome, metrics={"tokens": 10, "cost": 0.5})
    cancelled = await driver.trigger(pipeline)
    await driver.send(runs.CancelRun(run_id=cancelled))
    await driver.trigger(pipeline)
    await projected.catch_up()
    schema, pool = projected["pipeline_stats"], projected.pool
    until = datetime(2026, 2, 12, tzinfo=UTC)

    stats = await pipeline_analytics(pool, schema, pipeline, days=3, until=until)

    assert stats.runs_total == 6
    assert stats.by_status == {
        "queued": 1,
        "running": 0,
        "cancelling": 0,
        "succeeded": 3,
        "failed": 1,
        "cancelled": 1,
        "timed_out": 0,
    }
    assert stats.success_rate == 0.75
    # Durations of 10, 20, 30 and 40 s; the cancelled run never started, so has none.
    assert (stats.p50_duration_ms, stats.p95_duration_ms) == (25_000, 38_500)
    assert stats.metrics == {"tokens": 40.0, "cost": 2.0}
    assert [(d.day, d.runs, d.succeeded, d.failed, d.cancelled) for d in stats.daily] == [
        (date(2026, 2, 9), 0, 0, 0, 0),
        (date(2026, 2, 10), 3, 2, 1, 0),
        (date(2026, 2, 11), 3, 1, 0, 1),
    ]
    assert stats.daily[1].duration_ms_total == 60_000
    assert (stats.since, stats.until) == (until - timedelta(days=3), until)

    one_day = await pipeline_analytics(pool, schema, pipeline, days=1, until=until)
    assert one_day.runs_total == 3
    ever = await pipeline_analytics(pool, schema, pipeline, days=None, until=until)
    assert (ever.runs_total, ever.daily, ever.since) == (6, (), None)

    mine = await summary(pool, schema, project_ids=(project,), days=3, until=until)
    assert (mine.runs_total, mine.pipelines, mine.projects, mine.success_rate) == (6, 1, 1, 0.75)
    nobody = await summary(pool, schema, project_ids=(), days=3, until=until)
    assert (nobody.runs_total, nobody.success_rate, nobody.p50_duration_ms) == (0, None, None)
    with pytest.raises(InvalidQuery):
        await summary(pool, schema, project_ids=None, days=0)


async def test_a_truncated_log_says_where_it_stopped(driver: Driver, projected: Projected) -> None:
    run = uuid4()
    # Raw events: reaching the real cap takes 16 MiB of chunks.
    chunk = {"seq": 1, "step": None, "stream": "stdout", "text": "kept\n"}
    cut = {"seq": 2, "step": None, "bytes_kept": 5}
    await driver.services.store.append(
        str(run),
        "run",
        [
            NewEvent(
                type="LogChunkAppended", data={**chunk, "occurred_at": "2026-03-01T12:00:00Z"}
            ),
            NewEvent(type="LogTruncated", data={**cut, "occurred_at": "2026-03-01T12:00:01Z"}),
        ],
        expected_version=0,
        metadata=EventMetadata(correlation_id=f"{driver.tag}:raw"),
    )
    await projected.catch_up()

    page = await run_logs(projected.pool, projected["logs"], run)

    assert [c.text for c in page.items] == ["kept\n"]
    assert page.truncation == LogTruncation(
        step=None, seq=2, bytes_kept=5, at=datetime(2026, 3, 1, 12, 0, 1, tzinfo=UTC)
    )
