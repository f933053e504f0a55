"""Many slots fired by one command (`TriggerScheduledRuns`) on the in-memory store: the same
runs, ids and keys a lone `TriggerRun` of each slot makes; refusals and replays per slot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from commands.context import CommandContext
from commands.pipelines import DeactivatePipeline
from commands.runs import TriggerRun
from commands.scheduled_runs import (
    ScheduledRunsTriggered,
    ScheduledSlot,
    TriggerScheduledRuns,
    slot_key,
)
from commands.scheduler import SCHEDULER
from domain.errors import InvalidValue
from tests.unit.test_command_handlers import World

SLOT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def world() -> World:
    return World()


def slot(pipeline: UUID, at: datetime = SLOT) -> ScheduledSlot:
    return ScheduledSlot(pipeline_id=pipeline, schedule="nightly", slot=at, parameters={})


def run_id(pipeline: UUID, at: datetime = SLOT) -> UUID:
    key = slot_key(pipeline, "nightly", at)
    return CommandContext(
        principal=SCHEDULER, at=at, correlation_id="", idempotency_key=key
    ).new_id("run")


async def fire(world: World, *slots: ScheduledSlot) -> ScheduledRunsTriggered:
    result = await world.send(TriggerScheduledRuns(slots=slots), principal=SCHEDULER)
    assert isinstance(result, ScheduledRunsTriggered)
    return result


async def test_each_slot_becomes_the_run_a_lone_trigger_would_make(world: World) -> None:
    project = await world.project()
    one, two = await world.pipeline(project), await world.pipeline(project)

    result = await fire(world, slot(one), slot(two))

    assert [(f.run_id, f.written, f.refused) for f in result.fired] == [
        (run_id(one), True, ""),
        (run_id(two), True, ""),
    ]
    assert result.position == await world.store.head_position()
    [requested, *_] = await world.store.read_stream(str(run_id(one)))
    assert requested.type == "RunRequested"
    assert requested.data["trigger"]["schedule"] == "nightly"
    assert requested.metadata.actor == "scheduler"
    # A lone TriggerRun of the same slot is the same request: a replay, writing nothing.
    lone = TriggerRun(pipeline_id=one, kind="schedule", schedule="nightly", slot=SLOT)
    again = await world.send(lone, principal=SCHEDULER, key=slot_key(one, "nightly", SLOT))
    assert again.duplicate and again.id == str(run_id(one))
    alone = await world.types(run_id(one))
    assert alone == [e.type for e in await world.store.read_stream(str(run_id(two)))]


async def test_a_slot_fired_already_is_written_once(world: World) -> None:
    project = await world.project()
    one, two = await world.pipeline(project), await world.pipeline(project)
    await fire(world, slot(one))
    before = await world.store.read_stream(str(run_id(one)))

    result = await fire(world, slot(one), slot(two))

    assert [f.written for f in result.fired] == [False, True]
    assert await world.store.read_stream(str(run_id(one))) == before
    assert [f.written for f in (await fire(world, slot(one), slot(two))).fired] == [False, False]


async def test_refusals_are_per_slot(world: World) -> None:
    project = await world.project()
    fine, off = await world.pipeline(project), await world.pipeline(project)
    await world.send(DeactivatePipeline(pipeline_id=off))
    gone = uuid4()

    result = await fire(world, slot(off), slot(gone), slot(fine, SLOT + timedelta(hours=1)))

    refused = [f.refused for f in result.fired]
    assert "deactivated" in refused[0] or "inactive" in refused[0], refused[0]
    assert refused[1] == f"pipeline {gone} not found"
    assert refused[2] == "" and result.fired[2].written
    assert not result.fired[0].written and not result.fired[1].written
    assert await world.store.read_stream(str(run_id(off))) == []


async def test_a_batch_over_the_limit_is_refused_before_anything_is_read(world: World) -> None:
    pipeline = await world.pipeline(await world.project())
    too_many = tuple(slot(pipeline, SLOT + timedelta(minutes=m)) for m in range(1001))

    with pytest.raises(InvalidValue) as refused:
        await fire(world, *too_many)
    assert refused.value.field == "slots"
    assert await world.store.read_stream(str(run_id(pipeline))) == []
