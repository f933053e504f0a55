"""A batch of events the projection says change nothing (`applies_nothing`): its checkpoint row
moves at once, in one statement, and `apply` is not called; a batch with one event that does
change something, or an operator's decision, is applied as ever."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import asyncpg
import pytest_asyncio

from adapters.store import EventStore
from domain.envelope import EventEnvelope
from domain.projection_quarantine import SKIPPED
from projections import checkpoints
from projections.batches import Batches, nothing_to_apply
from projections.progress import Progress
from tests.helpers import an_envelope
from tests.integration.projections.counting import Counts, append, checkpoint


class MostlyIdle(Counts):
    """Counts its events, but says `Idle` ones change nothing."""

    def __init__(self, name: str) -> None:
        super().__init__(name, {"Idle", "Counted", SKIPPED})
        self.batches: list[list[str]] = []

    def applies_nothing(self, event: EventEnvelope) -> bool:
        return event.type == "Idle"

    async def apply(
        self, fresh_conn: asyncpg.Connection, schema: str, events: Sequence[EventEnvelope]
    ) -> None:
        self.batches.append([e.type for e in events])
        await super().apply(fresh_conn, schema, [e for e in events if e.type != "Idle"])


@pytest_asyncio.fixture
async def store(fresh_database_url: str) -> AsyncIterator[EventStore]:
    async with EventStore(fresh_database_url, stream_types={"run"}) as store:
        yield store


async def _served(
    fresh_conn: asyncpg.Connection, projection: MostlyIdle
) -> tuple[Batches, Progress]:
    await checkpoints.ensure(fresh_conn, projection)
    row = await checkpoints.claim(fresh_conn, projection.name, "test", projection.event_types)
    return Batches(fresh_conn, projection), Progress(row["position"])


async def test_a_batch_that_changes_nothing_moves_the_row_without_applying(
    store: EventStore, fresh_conn: asyncpg.Connection
) -> None:
    projection = MostlyIdle("mostly_idle")
    batches, at = await _served(fresh_conn, projection)
    upto = await append(store, "Idle", ["run-a", "run-b"], 2)

    await batches.step(at, upto)

    assert projection.batches == []  # not applied
    assert at.stored == at.position == upto  # the row moved, not only `at`
    row = await checkpoint(fresh_conn, projection.name)
    assert row is not None and row["position"] == upto
    assert not fresh_conn.is_in_transaction()


async def test_a_batch_with_one_event_that_changes_something_is_applied_whole(
    store: EventStore, fresh_conn: asyncpg.Connection
) -> None:
    projection = MostlyIdle("partly_idle")
    batches, at = await _served(fresh_conn, projection)
    await append(store, "Idle", ["run-a"], 1)
    upto = await append(store, "Counted", ["run-b"], 1)

    await batches.step(at, upto)

    assert projection.batches == [["Idle", "Counted"]]
    assert at.stored == upto
    assert await fresh_conn.fetchval(f"SELECT n FROM rm_{projection.name}.counts") == 1


def test_an_operator_decision_is_never_passed_over() -> None:
    projection = MostlyIdle("idle_decided")
    projection.applies_nothing = lambda event: True  # type: ignore[method-assign]
    idle, decision = an_envelope("Idle"), an_envelope(SKIPPED)

    assert nothing_to_apply(projection, [idle, idle])
    assert not nothing_to_apply(projection, [idle, decision])
    assert not nothing_to_apply(Counts("plain", {"Idle"}), [idle])  # says nothing: applied
