"""A batch of appends (`append_many`) seals each person's data under that person's own key,
read once for the batch: one person's runs share a subject, two people never do.

On a database of its own: its run streams hold a lone RunStarted, which the session's live
projector (run views need the RunRequested first) would quarantine.
"""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

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
