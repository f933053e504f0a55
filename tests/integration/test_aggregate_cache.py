"""The aggregate cache against the real event store: two processes' worth of buses, each with
its own pool and its own cache, writing the same streams, never decide on a stale state."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
import pytest_asyncio

from adapters.store import EventStore, WrongExpectedVersion
from adapters.store.aggregate_cache import CachingRepository
from adapters.store.repository import Repository
from adapters.store.tail_reads import TailReads
from commands.api_keys import IssueApiKey, RevokeApiKey
from commands.bus import CommandBus, Dependencies
from commands.context import CommandContext, Principal
from commands.handlers import HANDLERS
from commands.pipelines import CreatePipeline, DeactivatePipeline
from commands.projects import ArchiveProject, CreateProject, RenameProject
from commands.run_reports import ReportStepStatus
from commands.runs import TriggerRun
from domain.api_key import ApiKey, ApiKeyStatus
from domain.errors import IllegalTransition
from domain.pipeline_definition import PipelineDefinition
from domain.project import Project
from domain.registry import default_registry
from domain.step_spec import StepSpec
from tests.unit.test_command_handlers import ADMIN, Heartbeats, Sealer, Secrets

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
DEFINITION = PipelineDefinition(name="ci", steps=(StepSpec(name="build", run="make"),))


@pytest_asyncio.fixture
async def stores(database_url: str) -> AsyncIterator[tuple[EventStore, EventStore]]:
    """Two event stores, each on its own pool: what two API processes have."""
    opened = []
    for _ in range(2):
        store = EventStore(database_url, stream_types=default_registry().stream_types())
        await store.open()
        opened.append(store)
    yield opened[0], opened[1]
    for store in opened:
        await store.close()


class Process:
    """One process's command side: a bus over a caching repository over its own pool, its
    tail reads batched as the API process's are."""

    def __init__(self, store: EventStore, *, max_entries: int = 64) -> None:
        self.store = store
        self.repository = CachingRepository(
            store, default_registry(), max_entries=max_entries, tails=TailReads(store.pool)
        )
        self.bus = CommandBus(
            HANDLERS,
            Dependencies(
                repository=self.repository,
                sealer=Sealer(),
                secrets=Secrets(),
                heartbeats=Heartbeats(),
            ),
        )
        self.now = T0

    async def send(self, command: object, *, key: str | None = None, principal=ADMIN):
        self.now += timedelta(seconds=1)
        context = CommandContext(
            principal=principal, at=self.now, correlation_id="c", idempotency_key=key
        )
        return await self.bus.dispatch(command, context)


async def names(store: EventStore, stream: UUID) -> list[str]:
    return [e.data.get("name", e.type) for e in await store.read_stream(str(stream))]


async def test_two_processes_writing_one_stream_in_turn_decide_on_its_latest_state(stores):
    a, b = Process(stores[0]), Process(stores[1])
    project = UUID((await a.send(CreateProject(name="Shop", slug=f"s-{uuid4().hex[:8]}"))).id)

    await a.send(RenameProject(project_id=project, name="One"))  # a keeps version 2
    await b.send(RenameProject(project_id=project, name="Two"))  # b moves it to 3
    # a's kept copy says "One": renaming to "Two" must still decide nothing, as b named it so.
    unchanged = await a.send(RenameProject(project_id=project, name="Two"))
    await b.send(RenameProject(project_id=project, name="Three"))
    renamed = await a.send(RenameProject(project_id=project, name="One"))
    await b.send(ArchiveProject(project_id=project))
    with pytest.raises(IllegalTransition):  # a's copy is active; the stream is archived
        await a.send(RenameProject(project_id=project, name="Four"))

    assert unchanged.position is None and unchanged.version == 3
    assert renamed.version == 5
    assert await names(a.store, project) == [
        "Shop",
        "One",
        "Two",
        "Three",
        "One",
        "ProjectArchived",
    ]
    assert a.repository.hits >= 3 and b.repository.hits >= 2
    fresh = await Repository(a.store, default_registry()).get(Project, project)
    assert await a.repository.get(Project, project) == fresh


async def test_a_conflict_drops_the_copy_and_the_retry_decides_on_the_stream(stores):
    a, b = CachingRepository(stores[0], default_registry()), Process(stores[1])
    project = Project.create(
        id=uuid4(), name="Shop", slug=f"s-{uuid4().hex[:8]}", description="", at=T0
    )
    with a.command_scope():
        await a.save(project)
    assert len(a) == 1

    with a.command_scope():
        mine = await a.get(Project, project.id)  # caught up at version 1
        await b.send(RenameProject(project_id=project.id, name="Theirs"))  # version 2
        mine.rename("Mine", at=T0 + timedelta(minutes=1))
        with pytest.raises(WrongExpectedVersion):
            await a.save(mine)
    assert len(a) == 0  # the copy with the refused event is not kept

    with a.command_scope():  # the retry: loads afresh, decides again, and succeeds
        retried = await a.get(Project, project.id)
        assert retried.name == "Theirs"
        retried.rename("Mine", at=T0 + timedelta(minutes=2))
        saved = await a.save(retried)
    assert saved is not None and saved.to_version == 3
    assert await names(stores[0], project.id) == ["Shop", "Theirs", "Mine"]


async def test_the_bus_retries_a_conflict_and_the_command_succeeds(stores):
    a, b = Process(stores[0]), Process(stores[1])
    project = UUID((await a.send(CreateProject(name="Shop", slug=f"s-{uuid4().hex[:8]}"))).id)
    await a.send(RenameProject(project_id=project, name="Kept"))
    original_get = a.repository.get
    raced = False

    async def get_then_race(cls, id, *, version=None):
        # Another process writes right after this process read: the append must conflict.
        nonlocal raced
        loaded = await original_get(cls, id, version=version)
        if not raced:
            raced = True
            await b.send(RenameProject(project_id=project, name="Theirs"))
        return loaded

    a.repository.get = get_then_race  # type: ignore[method-assign]
    result = await a.send(RenameProject(project_id=project, name="Mine"))

    assert result.version == 4
    assert await names(a.store, project) == ["Shop", "Kept", "Theirs", "Mine"]


async def test_an_idempotent_replay_keeps_no_copy_of_what_it_did_not_write(stores):
    a = Process(stores[0])
    project = UUID((await a.send(CreateProject(name="Shop", slug=f"s-{uuid4().hex[:8]}"))).id)
    first = await a.send(RenameProject(project_id=project, name="Once"), key="k-1")
    await a.send(RenameProject(project_id=project, name="Back"))
    replay = await a.send(RenameProject(project_id=project, name="Once"), key="k-1")

    assert replay.duplicate and replay.version == first.version
    assert (await a.repository.get(Project, project)).name == "Back"


async def test_the_cache_is_bounded_and_loads_past_states_from_the_stream(stores):
    a = Process(stores[0], max_entries=2)
    projects = [
        UUID((await a.send(CreateProject(name=f"P{i}", slug=f"s-{uuid4().hex[:8]}"))).id)
        for i in range(4)
    ]
    await a.send(RenameProject(project_id=projects[0], name="Renamed"))

    assert len(a.repository) == 2
    past = await a.repository.get(Project, projects[0], version=1)
    assert past.name == "P0"
    with pytest.raises(ValueError):
        CachingRepository(stores[0], default_registry(), max_entries=0)


async def test_an_aggregate_holding_a_persons_data_is_never_kept(stores):
    a = Process(stores[0])
    project = UUID((await a.send(CreateProject(name="Shop", slug=f"s-{uuid4().hex[:8]}"))).id)
    pipeline = UUID((await a.send(CreatePipeline(project_id=project, definition=DEFINITION))).id)
    person = Principal(
        id="jwt:alice", name="Alice", project_id=None, scopes=ADMIN.scopes, person=True
    )
    by_key = UUID((await a.send(TriggerRun(pipeline_id=pipeline))).id)
    by_person = UUID((await a.send(TriggerRun(pipeline_id=pipeline), principal=person)).id)

    kept = set(a.repository._entries)
    assert str(by_key) in kept and str(by_person) not in kept
    # Loaded afresh (say, by a step report): still not kept, as its RunRequested names Alice.
    await a.send(ReportStepStatus(run_id=by_person, step="build", status="running"))
    assert str(by_person) not in a.repository._entries


async def test_a_key_read_for_authentication_is_shared_and_sees_a_revocation_at_once(stores):
    a, b = Process(stores[0]), Process(stores[1])
    key_id = UUID((await a.send(IssueApiKey(name="ci", scopes=("admin",)))).id)
    a.repository._entries.clear()  # as a fresh process: the first read builds the key

    first = await a.repository.get_to_read(ApiKey, key_id)
    hits = a.repository.hits
    second = await a.repository.get_to_read(ApiKey, key_id)

    # Shared, not lent: many requests with one key all hit the one kept entry.
    assert second is first and a.repository.hits == hits + 1
    assert str(key_id) in a.repository._entries
    # Revoked by another process: the next read (its tail read) sees it, as uncached reads did.
    await b.send(RevokeApiKey(key_id=key_id, reason="leaked"))
    third = await a.repository.get_to_read(ApiKey, key_id)
    assert third.status is ApiKeyStatus.REVOKED
    assert (await a.repository.get_to_read(ApiKey, key_id)).status is ApiKeyStatus.REVOKED


async def test_a_read_to_authenticate_never_keeps_a_copy_with_pending_events(stores):
    a = Process(stores[0])
    key_id = UUID((await a.send(IssueApiKey(name="ci", scopes=("admin",)))).id)
    kept = await a.repository.get_to_read(ApiKey, key_id)
    kept.revoke(revoked_by="nobody", at=T0)  # changed, never saved: no reader may trust it

    again = await a.repository.get_to_read(ApiKey, key_id)
    assert again is not kept and again.status is ApiKeyStatus.ACTIVE


async def test_concurrent_triggers_share_the_kept_pipeline_and_see_a_deactivation_at_once(stores):
    a, b = Process(stores[0]), Process(stores[1])
    project = UUID((await a.send(CreateProject(name="Shop", slug=f"s-{uuid4().hex[:8]}"))).id)
    pipeline = UUID((await a.send(CreatePipeline(project_id=project, definition=DEFINITION))).id)
    misses = a.repository.misses

    runs = await asyncio.gather(*(a.send(TriggerRun(pipeline_id=pipeline)) for _ in range(8)))

    # Only read by a trigger: shared, so none of them rebuilt it from its whole stream.
    assert len({run.id for run in runs}) == 8 and a.repository.misses == misses
    # Deactivated by another process: the next trigger's tail read sees it.
    await b.send(DeactivatePipeline(pipeline_id=pipeline))
    with pytest.raises(IllegalTransition):
        await a.send(TriggerRun(pipeline_id=pipeline))
