"""A batch of deliveries for several projects: side by side, each project's in its order."""

from __future__ import annotations

from uuid import UUID

from adapters.store.reader import read_stream_current
from domain.trigger_spec import TriggerSpec
from tests.integration.webhooks.intake_world import (  # noqa: F401  (the `world` fixture)
    World,
    world_fixture,
)

PUSH = "github/push.branch-created.json"


async def test_each_project_s_runs_start_in_its_deliveries_order_and_all_are_recorded(
    world: World,
) -> None:
    projects = [await world.project() for _ in range(3)]
    sources = {p: await world.source(p, "github") for p in projects}
    for project in projects:
        await world.pipeline(project, TriggerSpec(source="github", events=("push",)))
    # Interleaved, as a feed would bring them: p0, p1, p2, p0, p1, p2, ...
    batch = [
        await world.deliver(sources[p], p, PUSH, after=f"{i + 1:040x}")
        for i in range(4)
        for p in projects
    ]
    await world.catch_up()

    async with world.pool.acquire() as conn:
        await world.process.apply(conn, world.schema, batch)

    for project in projects:
        runs: list[UUID] = []
        for envelope in (e for e in batch if e.data["project_id"] == str(project)):
            delivery = await world.delivery(envelope)
            assert delivery.outcome == "triggered", delivery.reason
            runs += delivery.runs
        requested = [(await read_stream_current(world.pool, str(run)))[0].position for run in runs]
        assert len(requested) == 4 and requested == sorted(requested)
