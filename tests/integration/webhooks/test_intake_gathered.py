"""A batch's deliveries gathered (`IntakeBatch`): the same outcomes as one at a time, the
runs in the pushes' order, nothing written twice, nothing outside the source's project."""

from __future__ import annotations

import pytest

from adapters.store.aggregate_cache import CachingRepository
from adapters.store.reader import read_stream_current
from adapters.webhooks.intake import received
from commands import boundary
from commands import webhook_intake_batch as intake_batch
from commands.webhook_batches import (
    DeliveryDecided,
    OutcomeRecord,
    RequestRunsAndRecordOutcomes,
)
from commands.webhook_intake import Candidate, WebhookIntake
from commands.webhook_intake_batch import IntakeBatch
from commands.webhook_intake_requests import outcome_record
from commands.webhook_intake_types import Outcome, ReceivedDelivery
from domain.errors import IllegalTransition
from domain.pipeline_definition import TriggerSpec
from domain.webhook_delivery import UNREAD_BODY
from tests.integration.webhooks.intake_world import (  # noqa: F401  (the `world` fixture)
    World,
    world_fixture,
)

PUSH = "github/push.branch-created.json"
PULL = "github/pull_request.opened.json"
WORKFLOW = "github/workflow_run.requested.json"


def one_by_one(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The batches that failed as a whole and were processed one delivery at a time."""
    return [r.message for r in caplog.records if "processing it one by one" in r.message]


async def test_a_mixed_batch_decides_each_delivery_as_alone_and_keeps_the_push_order(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    project = await world.project()
    source = await world.source(project, "github")
    await world.pipeline(project, TriggerSpec(source="github", events=("push",)), name="a")
    await world.pipeline(project, TriggerSpec(source="github", events=("push",)), name="b")
    await world.pipeline(project, TriggerSpec(source="github", events=("workflow_run",)))
    batch = [
        await world.deliver(source, project, PUSH, after=f"{1:040x}"),
        await world.deliver(source, project, PULL, number=2**31),  # past int32: refused
        await world.deliver(source, project, PUSH, body='{"after": "abc"}'),  # unreadable
        await world.deliver(source, project, WORKFLOW),  # a mirror: decided on its own
        await world.deliver(source, project, PUSH, after=f"{2:040x}"),
        await world.deliver(source, project, PUSH, deleted=True),
    ]
    await world.catch_up()

    async with world.pool.acquire() as conn:
        await world.process.apply(conn, world.schema, batch)

    assert not one_by_one(caplog)
    outcomes = [await world.delivery(envelope) for envelope in batch]
    assert [d.outcome for d in outcomes] == [
        "triggered", "ignored", "failed", "triggered", "triggered", "ignored"
    ]  # fmt: skip
    assert "pull_request" in outcomes[1].reason or "no active pipeline" in outcomes[1].reason
    assert "ref" in outcomes[2].reason
    assert len(outcomes[0].runs) == len(outcomes[4].runs) == 2
    pushed = [*outcomes[0].runs, *outcomes[3].runs, *outcomes[4].runs]
    positions = [(await read_stream_current(world.pool, str(r)))[0].position for r in pushed]
    assert positions == sorted(positions)


async def test_a_run_past_a_limit_is_refused_alone_and_its_neighbours_start(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    project = await world.project()
    source = await world.source(project, "github")
    await world.pipeline(project, TriggerSpec(source="github"))
    batch = [
        await world.deliver(source, project, PULL, number=7),
        await world.deliver(source, project, PULL, number=2**31),
        await world.deliver(source, project, PULL, number=8),
    ]
    await world.catch_up()

    async with world.pool.acquire() as conn:
        await world.process.apply(conn, world.schema, batch)

    assert not one_by_one(caplog)
    outcomes = [await world.delivery(envelope) for envelope in batch]
    assert [d.outcome for d in outcomes] == ["triggered", "failed", "triggered"]
    assert "pull_request" in outcomes[1].reason and outcomes[1].runs == ()


async def test_a_batch_within_the_limits_is_checked_once_by_the_bus(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = await world.project()
    source = await world.source(project, "github")
    await world.pipeline(project, TriggerSpec(source="github"))
    batch = [await world.deliver(source, project, PULL, number=n) for n in (7, 8, 9)]
    await world.catch_up()
    checked_here: list[object] = []

    def counted(value: object) -> object:
        checked_here.append(value)
        return boundary.checked(value)

    monkeypatch.setattr(intake_batch, "checked", counted)
    async with world.pool.acquire() as conn:
        await world.process.apply(conn, world.schema, batch)

    assert [(await world.delivery(e)).outcome for e in batch] == ["triggered"] * 3
    assert checked_here == []  # only a batch the bus refused has its requests checked alone


async def test_a_replayed_batch_writes_nothing_new(world: World) -> None:
    intake, deliveries = await three_pushes_to_one_pipeline(world)
    gathered = batched(world, intake)

    first = await gathered.handle_many(deliveries, at=world.tick())
    before = await world.tagged_events()
    again = await gathered.handle_many(deliveries, at=world.tick())

    assert [o.outcome for o in first] == ["triggered"] * 3
    assert again == first
    assert await world.tagged_events() == before


async def test_a_batch_records_its_outcomes_on_the_deliveries_it_read(world: World) -> None:
    """Each outcome's delivery is loaded from the feed's read of it, its body not read again;
    applied again (a replay), the batch writes nothing twice."""
    project = await world.project()
    source = await world.source(project, "github")
    await world.pipeline(project, TriggerSpec(source="github", events=("push",)))
    batch = [await world.deliver(source, project, PUSH, after=f"{n:040x}") for n in (1, 2, 3)]
    await world.catch_up()
    repository = world.services.repository
    assert isinstance(repository, CachingRepository)
    hits = repository.primed_hits

    async with world.pool.acquire() as conn:
        await world.process.apply(conn, world.schema, batch)
        written = await world.tagged_events()
        await world.process.apply(conn, world.schema, batch)

    assert repository.primed_hits == hits + 3
    assert [(await world.delivery(e)).outcome for e in batch] == ["triggered"] * 3
    assert await world.tagged_events() == written


async def test_an_outcome_on_a_delivery_that_moved_on_is_decided_again_on_its_stream(
    world: World,
) -> None:
    """The delivery as the intake read it is stale (another intake recorded its outcome): the
    append conflicts, the command reads the stream again; the same outcome writes nothing, and
    another is refused, as a fresh read decides."""
    project = await world.project()
    source = await world.source(project, "github")
    envelopes = [await world.deliver(source, project, PUSH) for _ in range(2)]
    repository = world.services.repository
    assert isinstance(repository, CachingRepository)
    first = await world.process.process(envelopes[0])  # recorded meanwhile, elsewhere
    await world.process.process(envelopes[1])
    written = await world.tagged_events()
    hits = repository.primed_hits

    for envelope, outcome in zip(envelopes, (first.outcome, "failed"), strict=True):
        repository.prime([envelope], UNREAD_BODY)
        command, context = outcome_record(
            received(envelope), Outcome(outcome=outcome, reason=first.reason), world.tick()
        )
        record = OutcomeRecord(command=command, context=context)
        records = RequestRunsAndRecordOutcomes(deliveries=(DeliveryDecided(record=record),))
        if outcome == first.outcome:
            await world.services.bus.dispatch(records, context)
        else:
            with pytest.raises(IllegalTransition):
                await world.services.bus.dispatch(records, context)

    assert repository.primed_hits == hits + 2  # each decided first on the stale state
    assert await world.tagged_events() == written


async def test_a_batch_cannot_start_another_projects_pipeline(world: World) -> None:
    ours, theirs = await world.project(), await world.project()
    source = await world.source(ours, "github")
    foreign = await world.pipeline(theirs, TriggerSpec(source="github", events=("push",)))
    batch = [await world.deliver(source, ours, PUSH, after=f"{n:040x}") for n in (1, 2)]
    before = await world.tagged_events()

    async def rogue(_project: object, *, position: int) -> list[Candidate]:
        triggers = (TriggerSpec(source="github", events=("push",)),)
        return [Candidate(pipeline_id=foreign, name="theirs", active=True, triggers=triggers)]

    intake = WebhookIntake(world.services.bus.dispatch, world.services.repository, rogue)
    gathered = IntakeBatch(intake, world.services.bus.dispatch, world.services.repository, rogue)
    outcomes = await gathered.handle_many([received(e) for e in batch], at=world.tick())

    assert [(o.outcome, o.runs) for o in outcomes] == [("failed", ())] * 2
    assert all(f"pipeline {foreign} not found" in o.reason for o in outcomes)
    assert all(str(theirs) not in o.reason for o in outcomes)
    written = [e for e in await world.tagged_events() if e not in before]
    assert all(e.startswith("WebhookDeliveryProcessed:") for e in written)


async def test_a_batch_s_runs_are_keyed_by_their_streams_and_a_replay_finds_them(
    world: World,
) -> None:
    """Deliveries whose runs were requested alone (a crash before their outcomes): the batch
    answers the same runs and writes none again; a delivery of the batch then decided alone
    finds the batch's run."""
    intake, deliveries = await three_pushes_to_one_pipeline(world)
    gathered = batched(world, intake)

    alone = [await intake.decide(delivery, at=world.tick()) for delivery in deliveries[:2]]
    written = await world.tagged_events()
    outcomes = await gathered.handle_many(deliveries, at=world.tick())
    runs = [outcome.runs for outcome in outcomes]
    after_batch = await world.tagged_events()
    again = await intake.decide(deliveries[2], at=world.tick())
    keys = await world.pool.fetchval(
        "SELECT count(*) FROM idempotency_keys WHERE stream_id = ANY($1::text[])",
        [str(run) for run in runs[2]],
    )

    assert all(len(found) == 1 for found in runs)
    assert keys == 0  # the batch's run: its stream is its key, no row of its own
    assert [(o.outcome, o.runs) for o in alone] == [("triggered", runs[n]) for n in range(2)]
    assert [(o.outcome, o.runs) for o in outcomes] == [("triggered", found) for found in runs]
    new = [t for t in after_batch if t not in written]
    assert sorted(t.split(":")[0] for t in new) == [
        "RunRequested", *["WebhookDeliveryProcessed"] * 3
    ]  # fmt: skip
    assert (again.outcome, again.runs) == ("triggered", runs[2])
    assert await world.tagged_events() == after_batch


async def test_a_batch_s_runs_and_outcomes_are_one_append_batch(world: World) -> None:
    """The runs and the outcomes that name them go to the store together: one transaction
    (one `append_batch` call), the runs first."""
    intake, deliveries = await three_pushes_to_one_pipeline(world)

    outcomes = await batched(world, intake).handle_many(deliveries, at=world.tick())

    runs = [str(run) for outcome in outcomes for run in outcome.runs]
    rows = await world.pool.fetch(
        "SELECT type, xmin::text AS transaction FROM events "
        "WHERE stream_id = ANY($1::text[]) AND version <= 2 AND type <> 'WebhookReceived' "
        "ORDER BY position",
        runs + [str(delivery.stream_id) for delivery in deliveries],
    )
    assert [row["type"] for row in rows] == [
        *["RunRequested"] * 3, *["WebhookDeliveryProcessed"] * 3
    ]  # fmt: skip
    assert len({row["transaction"] for row in rows}) == 1


async def three_pushes_to_one_pipeline(
    world: World,
) -> tuple[WebhookIntake, list[ReceivedDelivery]]:
    """Three pushes recorded for a pipeline they trigger, caught up; the intake to decide them."""
    project = await world.project()
    source = await world.source(project, "github")
    await world.pipeline(project, TriggerSpec(source="github", events=("push",)))
    batch = [await world.deliver(source, project, PUSH, after=f"{n:040x}") for n in range(1, 4)]
    await world.catch_up()
    intake = WebhookIntake(
        world.services.bus.dispatch, world.services.repository, world.process.candidates
    )
    return intake, [received(envelope) for envelope in batch]


def batched(world: World, intake: WebhookIntake) -> IntakeBatch:
    bus, candidates = world.services.bus.dispatch, world.process.candidates
    return IntakeBatch(intake, bus, world.services.repository, candidates)
