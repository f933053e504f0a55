"""The runs read model from real events: a run and its steps, from request to their ends."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from commands import run_reports, runs
from domain.run_statuses import Provider
from domain.run_values import ExternalRef
from domain.step_spec import StepSpec
from projections.run_queries import get_run
from tests.integration.read_models.conftest import Driver, Projected

STEPS = (
    StepSpec(name="build", run="make", retries=1),
    StepSpec(name="test", run="make test", needs=("build",)),
    StepSpec(name="lint", run="make lint", needs=("build",), allow_failure=True),
)
STATUSES = (
    "queued",
    "running",
    "succeeded",
    "failed",
    "timed_out",
    "skipped",
    "cancelled",
    "waiting_for_approval",
)
ALL_PENDING = {s: 0 for s in STATUSES}


def at(seconds: int) -> datetime:
    return datetime(2026, 3, 1, 12, 0, seconds, tzinfo=UTC)


async def test_a_run_from_request_through_a_retry_to_success(
    driver: Driver, projected: Projected
) -> None:
    project = await driver.project()
    pipeline = await driver.pipeline(project, steps=STEPS[:2])
    driver.now = at(0)
    run = await driver.trigger(
        pipeline, ref="refs/heads/feature/x", sha="abc123", repo="org/app", pull_request=7
    )
    await projected.catch_up()

    queued = await get_run(projected.pool, projected["runs"], run)
    assert queued is not None
    assert (queued.status, queued.queued_at, queued.started_at) == ("queued", at(1), None)
    assert (queued.branch, queued.ref, queued.sha, queued.repo) == (
        "feature/x",
        "refs/heads/feature/x",
        "abc123",
        "org/app",
    )
    assert (queued.pull_request, queued.trigger_kind, queued.actor) == (7, "api", "alice")
    assert queued.step_summary == {**ALL_PENDING, "pending": 2}
    assert [(s.name, s.status, s.needs) for s in queued.steps] == [
        ("build", "pending", ()),
        ("test", "pending", ("build",)),
    ]

    await driver.step(run, "build", "running", runner="r1")  # 2
    await driver.step(run, "build", "failed", exit_code=1, reason="flaky", metrics={"tokens": 5})
    await driver.step(run, "build", "running", attempt=2)  # 4
    await driver.step(run, "build", "succeeded", attempt=2, metrics={"tokens": 7, "cost": 0.25})
    await driver.step(run, "test", "running")  # 6
    await driver.step(run, "test", "succeeded", outputs={"report": "ok"}, metrics={"cost": 0.5})
    await projected.catch_up()

    done = await get_run(projected.pool, projected["runs"], run)
    assert done is not None
    assert (done.status, done.started_at, done.finished_at) == ("succeeded", at(2), at(7))
    assert (done.duration_ms, done.updated_at, done.stream_version) == (5000, at(7), 12)
    assert done.metrics == {"tokens": 12.0, "cost": 0.75}
    assert done.step_summary == {**ALL_PENDING, "pending": 0, "succeeded": 2}
    build, test = done.steps
    assert (build.status, build.attempt, build.runner, build.exit_code) == (
        "succeeded",
        2,
        None,
        0,
    )
    assert (build.queued_at, build.started_at, build.finished_at, build.duration_ms) == (
        at(3),
        at(4),
        at(5),
        1000,
    )
    assert build.metrics == {"tokens": 7.0, "cost": 0.25}
    assert (test.outputs, test.reason) == ({"report": "ok"}, None)


async def test_a_failed_step_skips_its_dependants_and_fails_the_run(
    driver: Driver, projected: Projected
) -> None:
    project = await driver.project()
    pipeline = await driver.pipeline(project, steps=STEPS)
    run = await driver.trigger(pipeline, kind="manual")
    await driver.step(run, "build", "running")
    await driver.step(run, "build", "failed", exit_code=2, reason="boom")
    await driver.step(run, "build", "running", attempt=2)
    await driver.step(run, "build", "failed", attempt=2, exit_code=3, reason="boom again")
    await projected.catch_up()

    failed = await get_run(projected.pool, projected["runs"], run)
    assert failed is not None
    assert (failed.status, failed.failure_reason, failed.failed_step) == (
        "failed",
        "build failed",
        "build",
    )
    assert [(s.name, s.status, s.reason) for s in failed.steps] == [
        ("build", "failed", "boom again"),
        ("test", "skipped", "build failed"),
        ("lint", "skipped", "build failed"),
    ]
    assert failed.step_summary == {**ALL_PENDING, "pending": 0, "failed": 1, "skipped": 2}


async def test_a_step_whose_last_attempt_timed_out_ends_timed_out_and_fails_the_run(
    driver: Driver, projected: Projected
) -> None:
    project = await driver.project()
    pipeline = await driver.pipeline(project, steps=STEPS)
    run = await driver.trigger(pipeline, kind="manual")
    await driver.step(run, "build", "running")
    await driver.step(run, "build", "timed_out", metrics={"cpu_s": 1.5})
    await driver.step(run, "build", "running", attempt=2)
    await driver.step(run, "build", "timed_out", attempt=2, outputs={"stage": "2"})
    await projected.catch_up()

    ended = await get_run(projected.pool, projected["runs"], run)
    assert ended is not None
    assert (ended.status, ended.failure_reason, ended.failed_step) == (
        "failed",
        "build timed out",
        "build",
    )
    build = ended.steps[0]
    assert (build.status, build.attempt, build.exit_code, build.outputs) == (
        "timed_out",
        2,
        None,
        {"stage": "2"},
    )
    assert build.reason is not None and build.reason.startswith("timed out after ")
    assert [(s.name, s.status, s.reason) for s in ended.steps[1:]] == [
        ("test", "skipped", "build timed out"),
        ("lint", "skipped", "build timed out"),
    ]
    assert ended.step_summary == {**ALL_PENDING, "pending": 0, "timed_out": 1, "skipped": 2}
    assert ended.metrics == {"cpu_s": 1.5}


async def test_a_cancel_and_a_retry(driver: Driver, projected: Projected) -> None:
    project = await driver.project()
    pipeline = await driver.pipeline(project, steps=STEPS[:2])
    run = await driver.trigger(pipeline)
    await driver.step(run, "build", "running")
    await driver.send(runs.CancelRun(run_id=run, reason="enough"), actor="bob")
    await driver.step(run, "build", "cancelled", reason="stopped")
    retry = await driver.send(runs.RetryRun(run_id=run))
    await projected.catch_up()

    cancelled = await get_run(projected.pool, projected["runs"], run)
    retried = await get_run(projected.pool, projected["runs"], UUID(retry.id))
    assert cancelled is not None and retried is not None
    assert (cancelled.status, cancelled.cancel_requested_by, cancelled.cancel_reason) == (
        "cancelled",
        "bob",
        "enough",
    )
    assert [s.status for s in cancelled.steps] == ["cancelled", "cancelled"]
    assert (retried.retry_of, retried.trigger_kind, retried.status) == (run, "retry", "queued")


async def test_an_external_run_and_an_unknown_one(driver: Driver, projected: Projected) -> None:
    project = await driver.project()
    pipeline = await driver.pipeline(project)
    external = ExternalRef(provider=Provider.JENKINS, external_id="job/9", url="https://ci/job/9")
    run = await driver.trigger(pipeline, external=external)
    await driver.send(run_reports.ReportRunStatus(run_id=run, status="failed", reason="red"))
    await projected.catch_up()

    mirrored = await get_run(projected.pool, projected["runs"], run)
    assert mirrored is not None
    assert (mirrored.external_provider, mirrored.external_id, mirrored.external_url) == (
        "jenkins",
        "job/9",
        "https://ci/job/9",
    )
    assert (mirrored.status, mirrored.failure_reason, mirrored.failed_step) == (
        "failed",
        "red",
        None,
    )
    assert mirrored.steps == () and mirrored.step_summary["pending"] == 0
    assert await get_run(projected.pool, projected["runs"], UUID(int=1)) is None
