"""Jobs built from the run kept at the version that recorded them (the first wave: steps that
need none) are the jobs a read of the run afresh builds, whatever the pipeline's shape."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import AsyncTestClient

from adapters.dispatch.jobs import JobPublisher
from commands.context import CommandContext
from commands.dispatch import DISPATCHER, DispatchReady, JobsDispatched
from tests.integration.runners_server.conftest import Fleet, make_pipeline


@st.composite
def pipelines(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Steps, some needing earlier ones, some with a matrix."""
    steps: list[dict[str, Any]] = []
    for i in range(draw(st.integers(1, 4))):
        step: dict[str, Any] = {
            "name": f"s{i}",
            "run": draw(st.sampled_from(["true", "echo $X"])),
            "labels": ["first-wave"],
            "env": {"X": draw(st.sampled_from(["plain", "other"]))},
        }
        if i and draw(st.booleans()):
            step["needs"] = draw(
                st.lists(st.sampled_from([s["name"] for s in steps]), min_size=1, unique=True)
            )
        if draw(st.booleans()):
            step["matrix"] = {
                "n": draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, unique=True))
            }
        steps.append(step)
    return steps


@settings(
    max_examples=8,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=pipelines())
async def test_a_first_wave_built_unread_is_the_wave_read_afresh(
    fleet: Fleet, client: AsyncTestClient, admin: dict[str, str], steps: list[dict[str, Any]]
) -> None:
    _, pipeline_id = await make_pipeline(client, admin, steps)
    body = {"parameters": {}}
    response = await client.post(f"/api/v1/pipelines/{pipeline_id}/runs", json=body, headers=admin)
    assert response.status_code == 201, response.text
    run_id = UUID(response.json()["id"])
    context = CommandContext(principal=DISPATCHER, at=datetime.now(UTC), correlation_id="wave")
    result = await fleet.services.bus.dispatch(DispatchReady(run_id=run_id), context)
    assert isinstance(result, JobsDispatched) and result.jobs
    recorded = [(job.step, job.attempt, job.label) for job in result.jobs]
    repository = fleet.services.repository
    at = datetime.now(UTC)
    decided = result.run
    assert decided is not None and decided.version == result.version
    kept = JobPublisher(repository, fleet.js, fleet.settings.dispatch_stream)
    await kept.definition(decided.pipeline_id, decided.pipeline_version)  # as the role has it
    # The first wave (all of it: nothing ran yet) is built from the run decided, unread.
    assert all(not decided.plan[step].needs for step, _, _ in recorded)
    assert kept._first_wave(decided, recorded) is decided
    unread = await kept.jobs(run_id, recorded, dispatched_at=at, traceparent=None, decided=decided)
    afresh = JobPublisher(repository, fleet.js, fleet.settings.dispatch_stream)
    read = await afresh.jobs(run_id, recorded, dispatched_at=at, traceparent=None)
    assert unread == read
    # A later attempt, or a step that needs another, reads the run.
    step, _, label = recorded[0]
    assert kept._first_wave(decided, [(step, 2, label)]) is None
    needing = [name for name, plan in decided.plan.items() if plan.needs]
    if needing:
        assert kept._first_wave(decided, [(needing[0], 1, label)]) is None
