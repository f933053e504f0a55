"""A batch of appends (`append_many`) seals each person's data under that person's own key,
read once for the batch: one person's runs share a subject, two people never do.

On a database of its own: its run streams hold a lone RunStarted, which the session's live
projector (run views need the RunRequested first) would quarantine.
"""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

import msgspec

from adapters.bootstrap import open_services
from adapters.platform.secrets import SecretBox
from adapters.platform.services import Services
from adapters.platform.settings import Settings
from adapters.store import NewEvent, StreamAppend
from adapters.store.reader import read_stream_current
from domain.envelope import EventMetadata


def by(person: str) -> StreamAppend:
    return StreamAppend(
        stream_id=str(uuid4()),
        stream_type="run",
        events=[NewEvent(type="RunStarted", data={"occurred_at": "2026-04-01T12:00:00Z"})],
        expected_version=0,
        metadata=EventMetadata(correlation_id="c", actor=person, personal_actor=True),
    )


async def test_each_person_s_runs_of_a_batch_are_sealed_under_their_own_subject(
    fresh_database_url: str, tmp_path: Path
) -> None:
    settings = Settings(
        database_url=fresh_database_url, cipher_key=SecretBox.generate_key(), data_dir=tmp_path
    )
    async with open_services(settings, fresh_database_url) as services:
        await _sealed_per_person(services)


async def _sealed_per_person(services: Services) -> None:
    alice, bob = f"alice-{uuid4().hex[:8]}", f"bob-{uuid4().hex[:8]}"
    appends = [by(alice), by(bob), by(alice), by(bob)]

    await services.store.append_many(appends)

    subjects = []
    for append in appends:
        actor = await services.store.pool.fetchval(
            "SELECT metadata->>'actor' FROM events WHERE stream_id = $1", append.stream_id
        )
        assert actor.startswith("pii:v1:") and alice not in actor and bob not in actor
        subjects.append(actor.split(":")[2])
    assert subjects[0] == subjects[2] and subjects[1] == subjects[3]
    assert subjects[0] != subjects[1]
    pool = services.store.pool
    opened = [(await read_stream_current(pool, a.stream_id))[0] for a in appends]
    assert [e.metadata.actor for e in opened] == [alice, bob, alice, bob]


def requested_by(person: str) -> StreamAppend:
    data = {"occurred_at": "2026-04-01T12:00:00Z", "trigger": {"kind": "webhook", "actor": person}}
    return msgspec.structs.replace(by(person), events=[NewEvent(type="RunRequested", data=data)])


async def test_a_person_s_name_is_sealed_once_for_a_batch_and_opens_to_it_everywhere(
    fresh_database_url: str, tmp_path: Path
) -> None:
    settings = Settings(
        database_url=fresh_database_url, cipher_key=SecretBox.generate_key(), data_dir=tmp_path
    )
    async with open_services(settings, fresh_database_url) as services:
        await _named_once(services)


async def _named_once(services: Services) -> None:
    alice, bob = f"alice-{uuid4().hex[:8]}", f"bob-{uuid4().hex[:8]}"
    appends = [requested_by(alice), requested_by(bob), requested_by(alice)]

    await services.store.append_many(appends)
    later = requested_by(alice)
    await services.store.append_many([later])

    pool = services.store.pool
    stored = [
        await pool.fetchrow(
            "SELECT metadata->>'actor' AS actor, data->'trigger'->>'actor' AS named FROM events "
            "WHERE stream_id = $1",
            a.stream_id,
        )
        for a in appends
    ]
    # One sealed text per person and batch: the metadata and the trigger of each of its runs.
    assert stored[0]["actor"] == stored[0]["named"] == stored[2]["actor"] == stored[2]["named"]
    assert stored[1]["actor"] == stored[1]["named"] != stored[0]["actor"]
    assert all(row["actor"].startswith("pii:v1:") for row in stored)
    again = "SELECT metadata->>'actor' FROM events WHERE stream_id = $1"
    assert await pool.fetchval(again, later.stream_id) != stored[0]["actor"]  # not kept past it
    opened = [(await read_stream_current(pool, a.stream_id))[0] for a in appends]
    assert [e.metadata.actor for e in opened] == [alice, bob, alice]
    assert [e.data["trigger"]["actor"] for e in opened] == [alice, bob, alice]
