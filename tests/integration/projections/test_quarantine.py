"""A handler that fails on an event quarantines that stream only: the view serves the rest."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio

from adapters.bootstrap import open_services
from adapters.platform.admin_key import operator
from adapters.platform.secrets import SecretBox
from adapters.platform.services import Services
from adapters.platform.settings import Settings
from adapters.store import EventStore
from commands.quarantine import RetryQuarantinedEvents, SkipQuarantinedEvent
from domain.errors import AggregateNotFound, InvalidValue
from projections.rebuild import rebuild
from projections.runtime import Projector
from projections.status import projection_status
from tests.helpers import unique_id
from tests.integration.projections.counting import (
    Counts,
    append,
    caught_up,
    checkpoint,
    counts,
    running,
    wait_until,
)


@pytest_asyncio.fixture(scope="module")
async def store(database_url: str) -> AsyncIterator[EventStore]:
    async with EventStore(database_url, stream_types={"run"}) as store:
        yield store


async def quarantined(pool: asyncpg.Pool, name: str) -> list[tuple[str, int, str]]:
    rows = await pool.fetch(
        "SELECT stream_id, position, status FROM projection_quarantine WHERE projection = $1 "
        "ORDER BY position",
        name,
    )
    return [(r["stream_id"], r["position"], r["status"]) for r in rows]


@pytest_asyncio.fixture(scope="module")
async def services(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Services]:
    """The write side, whose bus takes the operators' decisions."""
    settings = Settings(
        database_url=database_url,
        data_dir=Path(tmp_path_factory.mktemp("decisions")),
        cipher_key=SecretBox.generate_key(),
    )
    async with open_services(settings, database_url) as services:
        yield services


async def decide(services: Services, command: object, actor: str) -> int:
    """The decision's position in the feed."""
    result = await services.bus.dispatch(command, operator(actor, at=datetime.now(UTC)))
    assert result.position is not None
    return result.position


async def decisions(pool: asyncpg.Pool, name: str) -> list[tuple[str, dict]]:
    """The decision events about view `name`, in order: (type, data)."""
    rows = await pool.fetch(
        "SELECT type, data FROM events WHERE stream_type = 'projection' "
        "AND data->>'projection' = $1 AND type <> 'ProjectionQuarantineOpened' ORDER BY position",
        name,
    )
    return [(r["type"], json.loads(r["data"])) for r in rows]


async def test_a_failing_event_parks_its_stream_and_the_others_go_on(
    store: EventStore, pool: asyncpg.Pool, database_url: str, services: Services
) -> None:
    tick, poison = unique_id("Ticked"), unique_id("Poisoned")
    bad, good, other = (unique_id(f"{n}-") for n in ("bad", "good", "other"))
    await append(store, tick, [bad, good], 3)
    poison_at = await append(store, poison, [bad], 1)
    await append(store, tick, [bad, good, other], 4)
    name = unique_id("buggy_")
    buggy = Counts(name, {tick, poison}, poison=poison)

    async with running(Projector(database_url, [buggy], batch_size=100)):
        await wait_until(lambda: caught_up(pool, name), what="caught up past the poison")
        row = await checkpoint(pool, name)
        assert (row["state"], row["error"]) == ("running", None), "the view serves"
        assert await counts(pool, name) == {bad: 3, good: 7, other: 4}
        held = await quarantined(pool, name)
        assert held[0] == (bad, poison_at, "poison")
        assert [h[2] for h in held[1:]] == ["parked"] * 4 and {h[0] for h in held} == {bad}
        assert [h[1] for h in held] == sorted(h[1] for h in held)
        first = await pool.fetchrow(
            "SELECT * FROM projection_quarantine WHERE projection = $1 AND status = 'poison'", name
        )
        assert (first["error_class"], first["attempts"]) == ("ValueError", 1)
        assert first["error"] == f"cannot count {poison}" and first["type"] == poison

        # Live: a later event of the bad stream parks too, one of another stream applies.
        await append(store, tick, [bad, other], 1)
        await wait_until(lambda: caught_up(pool, name), what="the new events")
        assert len(await quarantined(pool, name)) == 6
        assert (await counts(pool, name))[other] == 5

        shown = {s.name: s for s in await projection_status(pool)}[name]
        assert shown.state == "running" and shown.quarantine is not None
        assert (shown.quarantine.events, shown.quarantine.streams) == (6, 1)
        assert shown.quarantine.oldest_position == poison_at

        # Retried before a fix: the projector acts on the decision, and it fails again.
        retry = RetryQuarantinedEvents(projection=name, position=poison_at, reason="flaky?")
        await decide(services, retry, "ops:ann")
        await wait_until(lambda: caught_up(pool, name), what="the first retry")
        assert len(await quarantined(pool, name)) == 6
        poisoned = await pool.fetchval(
            "SELECT attempts FROM projection_quarantine WHERE projection = $1 AND position = $2",
            name,
            poison_at,
        )
        assert poisoned == 2

        # Fixed (the live projector runs the same object): a retry applies them in order.
        buggy.poison = None
        retry = RetryQuarantinedEvents(projection=name, position=poison_at, reason="fix #12")
        await decide(services, retry, "ops:ann")
        await wait_until(lambda: caught_up(pool, name), what="the second retry")
        assert await quarantined(pool, name) == []
        assert (await counts(pool, name))[bad] == 3 + 1 + 4 + 1
        seen = await pool.fetch(
            f"SELECT position FROM rm_{name}.seen s JOIN events e USING (position) "
            "WHERE e.stream_id = $1 ORDER BY position",
            bad,
        )
        assert len(seen) == 9

        # The stream is whole again: its next event applies live.
        await append(store, tick, [bad], 1)
        await wait_until(lambda: caught_up(pool, name), what="the stream applied live")
        assert (await counts(pool, name))[bad] == 10
        assert await quarantined(pool, name) == []
        # Nothing is quarantined there any more: a decision about it is refused.
        with pytest.raises(AggregateNotFound, match="quarantined event"):
            await decide(services, retry, "ops:ann")

    recorded = await decisions(pool, name)
    assert [(t, d["requested_by"], d["reason"], d["position"]) for t, d in recorded] == [
        ("ProjectionRetryRequested", "ops:ann", "flaky?", poison_at),
        ("ProjectionRetryRequested", "ops:ann", "fix #12", poison_at),
    ]
    assert {d["stream_id"] for _, d in recorded} == {bad}


async def test_a_skip_drops_the_poison_applies_the_rest_and_a_rebuild_skips_it_too(
    store: EventStore, pool: asyncpg.Pool, database_url: str, services: Services
) -> None:
    tick, poison = unique_id("Ticked"), unique_id("Poisoned")
    bad = unique_id("bad-")
    await append(store, tick, [bad], 2)
    poison_at = await append(store, poison, [bad], 1)
    await append(store, tick, [bad], 3)
    name = unique_id("buggy_")
    buggy = Counts(name, {tick, poison}, poison=poison)

    async with running(Projector(database_url, [buggy])):
        await wait_until(lambda: caught_up(pool, name), what="caught up")
        assert len(await quarantined(pool, name)) == 4
        refused = [
            (InvalidValue, "reason", name, poison_at, " "),
            (AggregateNotFound, "quarantined event", name, poison_at + 1, "only a poison"),
            (AggregateNotFound, "projection", "no_such_view", poison_at, "unknown view"),
        ]
        for error, match, view, position, reason in refused:
            with pytest.raises(error, match=match):
                wrong = SkipQuarantinedEvent(projection=view, position=position, reason=reason)
                await decide(services, wrong, "ops:bob")
        skip = SkipQuarantinedEvent(
            projection=name, position=poison_at, reason="a test event, never valid"
        )
        await decide(services, skip, "ops:bob")
        await wait_until(lambda: caught_up(pool, name), what="the skip")
        assert await counts(pool, name) == {bad: 5}
        assert await quarantined(pool, name) == []
        with pytest.raises(AggregateNotFound):
            retry = RetryQuarantinedEvents(projection=name, position=poison_at)
            await decide(services, retry, "ops:bob")

    ((kind, decision),) = await decisions(pool, name)
    assert (kind, decision["skipped_by"], decision["reason"], decision["position"]) == (
        "ProjectionEventSkipped",
        "ops:bob",
        "a test event, never valid",
        poison_at,
    )
    # The skip is in the feed: a rebuild replays it where it falls and leaves the event out.
    report = await rebuild(pool, Counts(name, {tick, poison}, poison=poison))
    assert report.quarantined == 0
    assert await counts(pool, name) == {bad: 5}


async def test_a_rebuild_quarantines_instead_of_failing(
    store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    tick, poison = unique_id("Ticked"), unique_id("Poisoned")
    bad, good = unique_id("bad-"), unique_id("good-")
    await append(store, tick, [bad, good], 2)
    poison_at = await append(store, poison, [bad], 1)
    await append(store, tick, [bad, good], 2)
    name = unique_id("counts_")
    async with running(Projector(database_url, [Counts(name, {tick, poison})])):
        await wait_until(lambda: caught_up(pool, name), what="the sound live view caught up")
        assert await counts(pool, name) == {bad: 5, good: 4}

        buggy = Counts(name, {tick, poison}, poison=poison)
        report = await rebuild(pool, buggy, batch_size=3)

        assert report.quarantined == 3
        assert await counts(pool, name) == {bad: 2, good: 4}
        held = await quarantined(pool, name)
        assert held[0] == (bad, poison_at, "poison") and len(held) == 3
        assert (await checkpoint(pool, name))["state"] == "running"

        # Rebuilt once more, fixed: the quarantine empties with the swap.
        buggy.poison = None
        assert (await rebuild(pool, buggy)).quarantined == 0
        assert await quarantined(pool, name) == []
        assert await counts(pool, name) == {bad: 5, good: 4}


async def test_a_new_version_goes_live_with_what_its_rebuild_quarantined(
    store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    tick, poison = unique_id("Ticked"), unique_id("Poisoned")
    bad, good = unique_id("bad-"), unique_id("good-")
    await append(store, tick, [bad, good], 2)
    poison_at = await append(store, poison, [bad], 1)
    name = unique_id("counts_")
    async with running(Projector(database_url, [Counts(name, {tick, poison})])):
        await wait_until(lambda: caught_up(pool, name), what="v1 caught up")

    v2 = Counts(name, {tick, poison}, version=2, poison=poison)
    async with running(Projector(database_url, [v2])):
        await wait_until(lambda: _version_is(pool, name, 2), what="v2 built")
        await append(store, tick, [bad, good], 1)
        await wait_until(lambda: caught_up(pool, name), what="v2 caught up")

    assert (await checkpoint(pool, name))["state"] == "stopped"
    assert await counts(pool, name) == {bad: 2, good: 3}
    held = await quarantined(pool, name)
    assert held[0] == (bad, poison_at, "poison") and [h[2] for h in held[1:]] == ["parked"]


async def _version_is(pool: asyncpg.Pool, name: str, version: int) -> bool:
    row = await checkpoint(pool, name)
    return row is not None and row["version"] == version


async def test_a_rebuild_reports_its_progress_to_the_head(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    tick, stream = unique_id("Ticked"), unique_id("s-")
    await append(store, tick, [stream], 3)
    heard: list[tuple[int, int]] = []
    report = await rebuild(
        pool, Counts(unique_id("counts_"), {tick}), progress=lambda d, t: heard.append((d, t))
    )
    assert heard[-1] == (report.position, report.position)
    assert [done for done, _ in heard] == sorted(done for done, _ in heard)
