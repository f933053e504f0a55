"""The repository against the real event store: round trips, conflicts, upcasting, the past."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
import pytest_asyncio

from adapters.store import EventStore, NewEvent, WrongExpectedVersion
from adapters.store.repository import AggregateNotFound, Repository
from domain.envelope import EventMetadata
from domain.project import Project, ProjectStatus
from domain.registry import default_registry

T0 = datetime(2025, 3, 1, 9, 30, 0, 123456, tzinfo=UTC)
T1 = T0 + timedelta(minutes=1)
T2 = T0 + timedelta(minutes=2)


@pytest_asyncio.fixture(scope="module")
async def store(database_url: str) -> AsyncIterator[EventStore]:
    store = EventStore(database_url, stream_types=default_registry().stream_types())
    await store.open()
    yield store
    await store.close()


@pytest.fixture
def repository(store: EventStore) -> Repository:
    return Repository(store, default_registry())


def new_project() -> Project:
    return Project.create(id=uuid4(), name="Web", slug="web", description="Shop", at=T0)


async def test_a_saved_project_is_rebuilt_equal(repository: Repository, store: EventStore) -> None:
    project = new_project()
    project.rename("Web shop", at=T1)

    result = await repository.save(project, metadata=EventMetadata(actor="alice"))

    assert result is not None
    assert (result.stream_id, result.from_version, result.to_version) == (str(project.id), 1, 2)
    assert project.pending_events == []
    loaded = await repository.get(Project, project.id)
    assert loaded == project
    assert (loaded.created_on, loaded.modified_on) == (T0, T1)
    envelopes = await store.read_stream(str(project.id))
    assert [(e.type, e.schema_version, e.stream_type) for e in envelopes] == [
        ("ProjectCreated", 2, "project"),
        ("ProjectRenamed", 1, "project"),
    ]
    assert {e.metadata.actor for e in envelopes} == {"alice"}


async def test_a_loaded_project_saves_its_new_events_after_the_old(
    repository: Repository,
) -> None:
    project = new_project()
    await repository.save(project)
    loaded = await repository.get(Project, project.id)

    loaded.archive(at=T1)
    result = await repository.save(loaded)

    assert result is not None
    assert (result.from_version, result.to_version) == (2, 2)
    assert (await repository.get(Project, project.id)).status is ProjectStatus.ARCHIVED


async def test_saving_nothing_appends_nothing(repository: Repository, store: EventStore) -> None:
    project = new_project()
    await repository.save(project)
    project.rename("Web", at=T1)  # the current name: decides nothing

    assert await repository.save(project) is None
    assert len(await store.read_stream(str(project.id))) == 1


async def test_a_stale_save_conflicts_and_writes_nothing(
    repository: Repository, store: EventStore
) -> None:
    project = new_project()
    await repository.save(project)
    first = await repository.get(Project, project.id)
    second = await repository.get(Project, project.id)
    first.rename("Shop", at=T1)
    second.archive(at=T2)
    await repository.save(first)

    with pytest.raises(WrongExpectedVersion):
        await repository.save(second)

    assert [e.type for e in await store.read_stream(str(project.id))] == [
        "ProjectCreated",
        "ProjectRenamed",
    ]
    assert len(second.pending_events) == 1, "a refused save keeps the decided events"


async def test_a_stored_v1_event_is_upcast_on_read(
    repository: Repository, store: EventStore
) -> None:
    project_id = uuid4()
    v1 = NewEvent(
        type="ProjectCreated",
        schema_version=1,
        data={"name": "Legacy", "slug": "legacy", "occurred_at": "2024-01-01T00:00:00Z"},
    )
    await store.append(str(project_id), "project", [v1], expected_version=0)

    project = await repository.get(Project, project_id)

    assert (project.name, project.slug, project.description) == ("Legacy", "legacy", "")
    assert project.created_on == datetime(2024, 1, 1, tzinfo=UTC)
    assert project.version == 1


async def test_an_unknown_id_is_not_found(repository: Repository) -> None:
    unknown = uuid4()
    with pytest.raises(AggregateNotFound) as raised:
        await repository.get(Project, unknown)
    assert raised.value.id == unknown
    assert str(unknown) in str(raised.value)


async def test_a_past_version_gives_the_state_back_then(repository: Repository) -> None:
    project = new_project()
    project.rename("Shop", at=T1)
    project.archive(at=T2)
    await repository.save(project)

    at_1 = await repository.get(Project, project.id, version=1)
    at_2 = await repository.get(Project, project.id, version=2)

    assert (at_1.version, at_1.name, at_1.status, at_1.modified_on) == (
        1,
        "Web",
        ProjectStatus.ACTIVE,
        T0,
    )
    assert (at_2.version, at_2.name, at_2.status, at_2.modified_on) == (
        2,
        "Shop",
        ProjectStatus.ACTIVE,
        T1,
    )
    assert await repository.get(Project, project.id, version=3) == project
