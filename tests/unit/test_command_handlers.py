"""Command handlers end to end on the in-memory event store: given these commands, when this
one, then these events (or this error, and nothing written).

The bus, the handlers, the repository and the store's own append rules are the real ones; only
the PostgreSQL behind the store is swapped for memory, so these run in milliseconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from adapters.store import WrongExpectedVersion
from adapters.store.memory import InMemoryEventStore
from adapters.store.repository import Repository
from commands.bus import CommandBus, CommandResult, Dependencies
from commands.context import CommandContext, Forbidden, Principal
from commands.handlers import HANDLERS
from commands.outcome import SecretShown
from commands.pipelines import CreatePipeline, DeactivatePipeline, DefinePipelineVersion
from commands.ports import NewApiKey, VersionConflict
from commands.projects import ArchiveProject, CreateProject, RenameProject
from commands.run_reports import ReportStepStatus
from commands.runs import CancelRun, TriggerRun
from commands.webhook_sources import RegisterWebhookSource
from domain.errors import AggregateNotFound, IllegalTransition
from domain.pipeline_definition import PipelineDefinition
from domain.project import Project
from domain.registry import default_registry
from domain.run import Run
from domain.run_statuses import RunStatus
from domain.step_spec import StepSpec

ADMIN = Principal(id="key:admin", name="alice", project_id=None, scopes=frozenset({"admin"}))
STEPS = (StepSpec(name="build", run="make"), StepSpec(name="test", run="make test"))


class Sealer:
    """Reversible and visible: what a test needs to see that a secret was sealed."""

    async def seal(self, plain: str) -> str:
        return f"sealed:{plain[::-1]}"

    async def forget(self, sealed: str) -> bool:
        return False  # the value is in the sealed text itself: nothing kept to delete


class Secrets:
    def new_api_key(self, key_id: UUID) -> NewApiKey:
        return NewApiKey(token=f"token-{key_id}", secret_hash=f"hash-{key_id}", prefix="token")

    def new_webhook_secret(self) -> str:
        return "whsec-test"


class Heartbeats:
    def __init__(self) -> None:
        self.seen: dict[UUID, datetime] = {}

    async def beat(self, runner_id: UUID, at: datetime, jobs: Sequence[Mapping[str, Any]]) -> None:
        self.seen[runner_id] = at

    async def forget(self, runner_id: UUID) -> None:
        self.seen.pop(runner_id, None)


class World:
    """A bus over the in-memory store, and a clock that moves a second per command."""

    def __init__(self) -> None:
        registry = default_registry()
        self.store = InMemoryEventStore(stream_types=registry.stream_types())
        self.repository = Repository(self.store, registry)
        self.bus = CommandBus(
            HANDLERS,
            Dependencies(
                repository=self.repository,
                sealer=Sealer(),
                secrets=Secrets(),
                heartbeats=Heartbeats(),
            ),
        )
        self.now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    async def send(
        self, command: object, *, principal: Principal = ADMIN, key: str | None = None
    ) -> CommandResult:
        self.now += timedelta(seconds=1)
        context = CommandContext(
            principal=principal, at=self.now, correlation_id="c-1", idempotency_key=key
        )
        return await self.bus.dispatch(command, context)

    async def types(self, stream: str | UUID) -> list[str]:
        return [e.type for e in await self.store.read_stream(str(stream))]

    async def project(self) -> UUID:
        return UUID((await self.send(CreateProject(name="Shop", slug="shop"))).id)

    async def pipeline(self, project: UUID) -> UUID:
        definition = PipelineDefinition(name="ci", steps=STEPS)
        created = await self.send(CreatePipeline(project_id=project, definition=definition))
        return UUID(created.id)


@pytest.fixture
def world() -> World:
    return World()


async def test_creating_a_project_starts_its_stream(world: World) -> None:
    result = await world.send(CreateProject(name="Shop", slug="shop", description="the shop"))

    assert (result.version, result.position, result.duplicate) == (1, 1, False)
    assert await world.types(result.id) == ["ProjectCreated"]
    [event] = await world.store.read_stream(result.id)
    assert event.metadata.actor == "alice" and event.metadata.correlation_id == "c-1"
    project = await world.repository.get(Project, UUID(result.id))
    assert (project.name, project.slug, project.description) == ("Shop", "shop", "the shop")


async def test_a_repeated_request_answers_as_the_first_and_writes_nothing(world: World) -> None:
    first = await world.send(CreateProject(name="Shop", slug="shop"), key="req-1")

    again = await world.send(CreateProject(name="Shop", slug="shop"), key="req-1")

    assert again.duplicate and not first.duplicate
    assert (again.id, again.version, again.position) == (first.id, first.version, first.position)
    assert await world.store.head_position() == 1


async def test_the_same_key_from_another_caller_is_another_request(world: World) -> None:
    bob = Principal(id="key:bob", name="bob", project_id=None, scopes=frozenset({"admin"}))
    mine = await world.send(CreateProject(name="Shop", slug="shop"), key="req-1")

    theirs = await world.send(CreateProject(name="Shop", slug="shop"), principal=bob, key="req-1")

    assert theirs.id != mine.id and not theirs.duplicate
    assert await world.store.head_position() == 2


async def test_a_pipeline_joins_an_active_project(world: World) -> None:
    project = await world.project()

    pipeline = await world.pipeline(project)

    assert await world.types(pipeline) == ["PipelineCreated"]
    [event] = await world.store.read_stream(str(pipeline))
    assert event.data["project_id"] == str(project)


async def test_an_archived_project_takes_no_pipeline_and_nothing_is_written(
    world: World,
) -> None:
    project = await world.project()
    await world.send(ArchiveProject(project_id=project))
    head = await world.store.head_position()

    with pytest.raises(IllegalTransition):
        await world.pipeline(project)

    assert await world.store.head_position() == head


async def test_triggering_a_run_pins_the_pipeline_version_and_plans_its_steps(
    world: World,
) -> None:
    pipeline = await world.pipeline(await world.project())

    result = await world.send(TriggerRun(pipeline_id=pipeline, ref="main"))

    assert await world.types(result.id) == ["RunRequested"]
    run = await world.repository.get(Run, UUID(result.id))
    assert (run.pipeline_id, run.pipeline_version, run.status) == (pipeline, 1, RunStatus.QUEUED)
    assert list(run.plan) == ["build", "test"]
    assert run.plan["test"].needs == ("build",)


async def test_a_run_of_an_unknown_pipeline_is_refused(world: World) -> None:
    with pytest.raises(AggregateNotFound):
        await world.send(TriggerRun(pipeline_id=UUID(int=7)))
    assert await world.store.head_position() == 0


async def test_an_inactive_pipeline_runs_nothing(world: World) -> None:
    pipeline = await world.pipeline(await world.project())
    await world.send(DeactivatePipeline(pipeline_id=pipeline))
    head = await world.store.head_position()

    with pytest.raises(IllegalTransition):
        await world.send(TriggerRun(pipeline_id=pipeline))

    assert await world.store.head_position() == head


async def test_a_caller_of_another_project_is_told_the_pipeline_does_not_exist(
    world: World,
) -> None:
    pipeline = await world.pipeline(await world.project())
    elsewhere = Principal(id="key:x", name="x", project_id=UUID(int=1), scopes=frozenset({"write"}))

    with pytest.raises(AggregateNotFound) as hidden:
        await world.send(TriggerRun(pipeline_id=pipeline), principal=elsewhere)
    with pytest.raises(AggregateNotFound) as missing:
        await world.send(TriggerRun(pipeline_id=UUID(int=2)), principal=elsewhere)

    # The very refusal an unknown id gets: its existence and its project are not told.
    assert str(hidden.value) == str(missing.value).replace(str(UUID(int=2)), str(pipeline))
    assert await world.store.head_position() == 2


async def test_a_caller_of_the_project_without_the_scope_is_forbidden(world: World) -> None:
    project = await world.project()
    pipeline = await world.pipeline(project)
    reader = Principal(id="key:r", name="r", project_id=project, scopes=frozenset({"read"}))

    with pytest.raises(Forbidden):
        await world.send(TriggerRun(pipeline_id=pipeline), principal=reader)


async def test_an_update_expecting_a_stale_version_conflicts(world: World) -> None:
    pipeline = await world.pipeline(await world.project())
    newer = PipelineDefinition(name="ci", steps=STEPS[:1])
    await world.send(DefinePipelineVersion(pipeline_id=pipeline, definition=newer))

    with pytest.raises(VersionConflict):
        await world.send(
            DefinePipelineVersion(pipeline_id=pipeline, definition=newer, expected_version=1)
        )

    assert len(await world.types(pipeline)) == 2


async def test_a_stale_aggregate_cannot_be_saved_over_a_newer_stream(world: World) -> None:
    project = await world.project()
    stale = await world.repository.get(Project, project)
    await world.send(RenameProject(project_id=project, name="Shop 2"))

    stale.rename("Shop 3", at=world.now + timedelta(seconds=1))
    with pytest.raises(WrongExpectedVersion) as caught:
        await world.repository.save(stale)

    assert (caught.value.expected, caught.value.actual) == (1, 2)
    assert (await world.repository.get(Project, project)).name == "Shop 2"


async def test_cancelling_a_queued_run_cancels_its_steps_and_ends_it(world: World) -> None:
    pipeline = await world.pipeline(await world.project())
    run = UUID((await world.send(TriggerRun(pipeline_id=pipeline))).id)

    result = await world.send(CancelRun(run_id=run, reason="not needed"))

    events = await world.types(run)
    assert events[:2] == ["RunRequested", "RunCancelRequested"]
    assert events[-1] == "RunCancelled"
    assert result.version == len(events)
    assert (await world.repository.get(Run, run)).status is RunStatus.CANCELLED


async def test_a_run_succeeds_when_its_steps_do(world: World) -> None:
    pipeline = await world.pipeline(await world.project())
    run = UUID((await world.send(TriggerRun(pipeline_id=pipeline))).id)

    for step in ("build", "test"):
        await world.send(ReportStepStatus(run_id=run, step=step, status="running"))
        await world.send(ReportStepStatus(run_id=run, step=step, status="succeeded", exit_code=0))

    state = await world.repository.get(Run, run)
    assert state.status is RunStatus.SUCCEEDED
    assert (await world.types(run))[-1] == "RunSucceeded"
    # The history stays replayable: the run as it was after its first event.
    assert (await world.repository.get(Run, run, version=1)).status is RunStatus.QUEUED


async def test_a_webhook_secret_is_shown_once_and_only_its_sealed_form_is_kept(
    world: World,
) -> None:
    project = await world.project()
    register = RegisterWebhookSource(project_id=project, kind="github", name="shop-repo")

    first = await world.send(register, key="hook-1")
    replay = await world.send(register, key="hook-1")

    assert isinstance(first, SecretShown) and first.secret == "whsec-test"
    assert replay.duplicate and getattr(replay, "secret", None) is None  # shown once only
    [event] = await world.store.read_stream(first.id)
    assert "whsec-test" not in str(event.data)
    assert "sealed:tset-ceshw" in event.data.values()
