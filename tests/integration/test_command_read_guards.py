"""A command that only reads an aggregate (a trigger's pipeline) takes the kept copy unread, and
its append checks it (read guards): a change committed by another process, even between the
read and the append, decides the command; a refusal (no append to check it) stands only once
what it was decided on is found current."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextvars import Context
from typing import Any
from uuid import UUID, uuid4

import pytest
import pytest_asyncio

from adapters.store import EventStore, GuardMoved
from adapters.store.read_guards import standing_read
from commands.api_keys import IssueApiKey, RevokeApiKey
from commands.pipelines import ActivatePipeline, CreatePipeline, DeactivatePipeline
from commands.projects import CreateProject
from commands.runs import TriggerRun
from domain.errors import IllegalTransition
from domain.registry import default_registry
from tests.integration.test_aggregate_cache import DEFINITION, Process


@pytest_asyncio.fixture
async def stores(database_url: str) -> AsyncIterator[tuple[EventStore, EventStore]]:
    """Two event stores, each on its own pool: what two processes have."""
    opened = [EventStore(database_url, stream_types=default_registry().stream_types())]
    opened.append(EventStore(database_url, stream_types=default_registry().stream_types()))
    for store in opened:
        await store.open()
    yield opened[0], opened[1]
    for store in opened:
        await store.close()


class ChangedBeforeTheAppend:
    """A process's event store, but another process sends `change` just before the first
    append goes in: after the command read what it reads, before the append that checks it."""

    def __init__(self, store: EventStore, other: Process) -> None:
        self._store = store
        self._other = other
        self.change: object | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def append(self, *args: Any, **kwargs: Any) -> Any:
        if self.change is not None:
            change, self.change = self.change, None
            # In a context of its own: the other process knows nothing of this command's reads.
            await asyncio.create_task(self._other.send(change), context=Context())
        return await self._store.append(*args, **kwargs)


async def new_pipeline(process: Process) -> UUID:
    project = await process.send(CreateProject(name="Shop", slug=f"s-{uuid4().hex[:8]}"))
    created = await process.send(CreatePipeline(project_id=UUID(project.id), definition=DEFINITION))
    return UUID(created.id)


def counts(process: Process) -> tuple[int, int, int, int]:
    repository, tails = process.repository, process.repository._read_from.__self__  # type: ignore[attr-defined]
    return repository.unread_hits, repository.hits, repository.misses, tails.queries


async def runs_of(store: EventStore, first: int) -> Sequence[str]:
    return [e.type for e in await store.read_all(after_position=first) if e.type == "RunRequested"]


async def test_a_trigger_takes_the_kept_pipeline_unread(stores) -> None:
    a = Process(stores[0])
    pipeline = await new_pipeline(a)
    await a.send(TriggerRun(pipeline_id=pipeline))  # the pipeline is kept from here on
    before = counts(a)

    runs = await asyncio.gather(*(a.send(TriggerRun(pipeline_id=pipeline)) for _ in range(4)))

    assert len({run.id for run in runs}) == 4 and all(run.position for run in runs)
    after = counts(a)
    assert after[0] == before[0] + 4, "taken unread"
    assert after[1:] == before[1:], "no tail read, no rebuild"


async def test_a_deactivation_between_the_kept_read_and_the_append_refuses_the_trigger(
    stores,
) -> None:
    b = Process(stores[1])
    changing = ChangedBeforeTheAppend(stores[0], b)
    a = Process(changing)  # type: ignore[arg-type]
    pipeline = await new_pipeline(a)
    await a.send(TriggerRun(pipeline_id=pipeline))
    head = await stores[0].head_position()
    changing.change = DeactivatePipeline(pipeline_id=pipeline)

    # Decided on the kept (active) pipeline; the append finds it moved and writes nothing; the
    # command, decided again on the pipeline as it is now, is refused.
    with pytest.raises(IllegalTransition):
        await a.send(TriggerRun(pipeline_id=pipeline))

    assert await runs_of(stores[0], head) == []
    assert await stores[0].head_position() == head + 1  # the deactivation alone


async def test_a_pipeline_activated_elsewhere_is_triggered_though_the_kept_one_refused(
    stores,
) -> None:
    a, b = Process(stores[0]), Process(stores[1])
    pipeline = await new_pipeline(a)
    await a.send(DeactivatePipeline(pipeline_id=pipeline))
    with pytest.raises(IllegalTransition):
        await a.send(TriggerRun(pipeline_id=pipeline))  # kept: inactive
    await b.send(ActivatePipeline(pipeline_id=pipeline))

    # Refused on the kept copy; a refusal writes nothing to check it, so the pipeline is read:
    # it moved, and the command is decided again on it.
    run = await a.send(TriggerRun(pipeline_id=pipeline))

    assert run.position is not None


async def test_a_refusal_on_a_current_kept_pipeline_stands_after_one_check(stores) -> None:
    a = Process(stores[0])
    pipeline = await new_pipeline(a)
    await a.send(DeactivatePipeline(pipeline_id=pipeline))
    with pytest.raises(IllegalTransition):
        await a.send(TriggerRun(pipeline_id=pipeline))
    before = counts(a)

    with pytest.raises(IllegalTransition):
        await a.send(TriggerRun(pipeline_id=pipeline))

    after = counts(a)
    assert after[:3] == (before[0] + 1, before[1], before[2]), "checked, not decided again"
    assert after[3] == before[3] + 1, "one tail read: the check"


# A read a whole request stands on (its API key, `read_guards.standing_read`): every append made
# inside it carries the version stood on, whichever command makes it; a committed one confirms
# it; one that finds it moved writes nothing, and the bus does not decide again on it (the read
# is not the command's: its owner, the HTTP authentication, judges it).


async def test_an_append_carries_the_standing_read_and_confirms_it(stores) -> None:
    a = Process(stores[0])
    pipeline = await new_pipeline(a)
    key = UUID((await a.send(IssueApiKey(name="ci", scopes=("admin",)))).id)

    with standing_read() as standing:
        assert not standing.confirmed
        standing.stand_on(str(key), 1)
        run = await a.send(TriggerRun(pipeline_id=pipeline))

    assert run.position is not None and standing.confirmed


async def test_a_standing_read_moved_elsewhere_refuses_the_append_at_once(stores) -> None:
    a, b = Process(stores[0]), Process(stores[1])
    pipeline = await new_pipeline(a)
    key = UUID((await a.send(IssueApiKey(name="ci", scopes=("admin",)))).id)
    await a.send(TriggerRun(pipeline_id=pipeline))  # the pipeline is kept from here on
    await b.send(RevokeApiKey(key_id=key))
    head = await stores[0].head_position()
    queries = a.repository._read_from.__self__.queries  # type: ignore[attr-defined]

    with standing_read() as standing, pytest.raises(GuardMoved) as refused:
        standing.stand_on(str(key), 1)
        await a.send(TriggerRun(pipeline_id=pipeline))

    assert refused.value.stream_id == str(key) and not standing.confirmed
    assert await runs_of(stores[0], head) == [] and await stores[0].head_position() == head
    # Not decided again on fresh reads: the moved read is not the command's to judge.
    assert a.repository._read_from.__self__.queries == queries  # type: ignore[attr-defined]


async def test_a_replayed_append_does_not_confirm_the_standing_read(stores) -> None:
    a = Process(stores[0])
    pipeline = await new_pipeline(a)
    key = UUID((await a.send(IssueApiKey(name="ci", scopes=("admin",)))).id)
    first = await a.send(TriggerRun(pipeline_id=pipeline), key="once")

    with standing_read() as standing:
        standing.stand_on(str(key), 1)
        again = await a.send(TriggerRun(pipeline_id=pipeline), key="once")

    assert again.duplicate and again.id == first.id
    assert not standing.confirmed  # the store answered from its key: nothing was checked
