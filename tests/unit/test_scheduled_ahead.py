"""A busy slot's runs built ahead (`TriggerScheduledRuns.not_before`, `Scheduler(ahead=...)`)
on the in-memory store: written at the slot and never before, requested at it, and decided
again when the pipeline moved while they waited."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Collection, Sequence
from datetime import UTC, datetime, timedelta
from uuid import UUID

import msgspec
import pytest

from commands.pipelines import CreatePipeline, DeactivatePipeline, DefinePipelineVersion
from commands.scheduled_runs import (
    ScheduledRunsTriggered,
    ScheduledSlot,
    TriggerScheduledRuns,
)
from commands.scheduler import SCHEDULER, Scheduler
from domain.pipeline_definition import PipelineDefinition, StepSpec, TriggerSpec
from domain.registry import OCCURRED_AT
from projections.schedules import Schedule
from tests.unit.test_command_handlers import STEPS, World
from tests.unit.test_scheduled_runs import run_id

WAIT = timedelta(seconds=0.4)
SLOT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NIGHTLY = TriggerSpec(source="schedule", cron="* * * * *", schedule="nightly")


@pytest.fixture
def world() -> World:
    return World()


def slot(pipeline: UUID) -> ScheduledSlot:
    return ScheduledSlot(pipeline_id=pipeline, schedule="nightly", slot=SLOT, parameters={})


async def scheduled(world: World, project: UUID, *steps: StepSpec) -> UUID:
    definition = PipelineDefinition(name="ci", steps=steps or STEPS, triggers=(NIGHTLY,))
    return UUID((await world.send(CreatePipeline(project_id=project, definition=definition))).id)


async def fire_at(world: World, at: datetime, *pipelines: UUID) -> ScheduledRunsTriggered:
    """The pipelines' runs of SLOT (a minute of the past), written at `at`."""
    command = TriggerScheduledRuns(slots=tuple(slot(p) for p in pipelines), not_before=at)
    result = await world.send(command, principal=SCHEDULER)
    assert isinstance(result, ScheduledRunsTriggered)
    return result


async def test_runs_sent_ahead_are_written_at_their_moment_and_requested_at_it(
    world: World,
) -> None:
    project = await world.project()
    one, two = await scheduled(world, project), await scheduled(world, project)
    at = datetime.now(UTC) + WAIT

    sent = asyncio.create_task(fire_at(world, at, one, two))
    await asyncio.sleep(0.2)
    assert not sent.done() and await world.store.read_stream(str(run_id(one, SLOT))) == []
    result = await sent

    assert [f.written for f in result.fired] == [True, True]
    for pipeline in (one, two):
        [requested, *_] = await world.store.read_stream(str(run_id(pipeline, SLOT)))
        assert requested.recorded_at >= at, "never written before its slot"
        assert datetime.fromisoformat(requested.data[OCCURRED_AT]) == at, "requested then"


async def test_a_pipeline_deactivated_while_its_run_waits_refuses_it(world: World) -> None:
    project = await world.project()
    off, fine = await scheduled(world, project), await scheduled(world, project)
    at = datetime.now(UTC) + WAIT

    sent = asyncio.create_task(fire_at(world, at, off, fine))
    await asyncio.sleep(0.1)  # built by now: the wait has begun
    await world.send(DeactivatePipeline(pipeline_id=off))
    result = await sent

    assert not result.fired[0].written and "inactive" in result.fired[0].refused
    assert await world.store.read_stream(str(run_id(off, SLOT))) == []
    assert result.fired[1].written and not result.fired[1].refused


async def test_a_pipeline_changed_while_its_run_waits_runs_its_new_version(world: World) -> None:
    project = await world.project()
    changed, dropped = await scheduled(world, project), await scheduled(world, project)
    at = datetime.now(UTC) + WAIT

    sent = asyncio.create_task(fire_at(world, at, changed, dropped))
    await asyncio.sleep(0.1)
    steps = (*STEPS, StepSpec(name="ship", run="make ship"))
    definition = PipelineDefinition(name="ci", steps=steps, triggers=(NIGHTLY,))
    await world.send(DefinePipelineVersion(pipeline_id=changed, definition=definition))
    unscheduled = msgspec.structs.replace(definition, triggers=())
    await world.send(DefinePipelineVersion(pipeline_id=dropped, definition=unscheduled))
    result = await sent

    [requested, *_] = await world.store.read_stream(str(run_id(changed, SLOT)))
    assert requested.data["pipeline_version"] == 2
    assert [s["name"] for s in requested.data["steps"]] == ["build", "test", "ship"]
    assert not result.fired[1].written and "no longer" in result.fired[1].refused
    assert await world.store.read_stream(str(run_id(dropped, SLOT))) == []


class Book:
    """The schedules a test gives, every run on the in-memory store, every claim granted."""

    def __init__(self, world: World, schedules: Sequence[Schedule]) -> None:
        self.world, self.listed = world, schedules

    async def schedules(self) -> Sequence[Schedule]:
        return self.listed

    async def started_of(self, run_ids: Collection[UUID]) -> set[UUID]:
        return {r for r in run_ids if await self.world.store.read_stream(str(r))}

    @contextlib.asynccontextmanager
    async def claim(self, key: str, *, wait: bool) -> AsyncIterator[bool]:
        yield True


class Sent:
    """The world's bus, noting each batch's `not_before`."""

    def __init__(self, world: World) -> None:
        self.world, self.not_before = world, list[datetime | None]()

    async def dispatch(self, command: object, context):  # type: ignore[no-untyped-def]
        if isinstance(command, TriggerScheduledRuns):
            self.not_before.append(command.not_before)
        return await self.world.bus.dispatch(command, context)


async def test_a_scheduler_sends_a_slot_within_ahead_once_and_then_waits_for_the_next(
    world: World,
) -> None:
    project = await world.project()
    pipeline = await scheduled(world, project)
    # Slots in the past of the wall clock: the handler's wait is over at once.
    start = SLOT
    schedule = Schedule(
        pipeline_id=pipeline, project_id=project, key="nightly", trigger=NIGHTLY,
        since=start - timedelta(seconds=30), last_slot=None,
    )  # fmt: skip
    now = [start - timedelta(seconds=20)]
    sent = Sent(world)
    scheduler = Scheduler(
        sent.dispatch, Book(world, [schedule]), lambda: now[0], ahead=timedelta(seconds=10)
    )

    fired = []
    for moment in (-20, -15, -5, 1, 30, 45, 52):  # seconds from the first slot
        now[0] = start + timedelta(seconds=moment)
        fired.append([(f.slot, f.written) for f in (await scheduler.tick()).fired])

    second = start + timedelta(minutes=1)
    assert fired == [[], [], [(start, True)], [], [], [], [(second, True)]]
    assert sent.not_before == [start, second], "each sent ahead, to be written at its slot"
    [requested, *_] = await world.store.read_stream(str(run_id(pipeline, start)))
    assert datetime.fromisoformat(requested.data[OCCURRED_AT]) == start
