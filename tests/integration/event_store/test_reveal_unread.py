"""Fields a reader never reads (`reveal(..., unread=...)`) are left sealed, as stored: no key
read, no decryption; every other sealed value is opened as before."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest

from adapters.store.personal import cipher
from adapters.store.personal import reveal as revealing
from adapters.store.personal.keys import SubjectKeys
from tests.helpers import an_envelope, unique_id


@pytest.fixture
def keys() -> Iterator[SubjectKeys]:
    keys = SubjectKeys(os.urandom(32))
    before = list(revealing._installed)
    revealing.install(keys)
    yield keys
    revealing._installed[:] = before


class _NoConnection:
    """Any read through it fails the test: nothing was to be read."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"read {name} where nothing was to be read")


async def test_unread_fields_stay_sealed_and_the_rest_is_opened(
    pool: asyncpg.Pool, keys: SubjectKeys
) -> None:
    subject, key = await keys.ensure(pool, unique_id("pusher-"), {})
    body = cipher.seal(subject, key, '{"pusher": "someone"}')
    name = cipher.seal(subject, key, "someone")
    received = an_envelope("WebhookReceived", {"payload": body, "event": "push", "sender": name})
    other = an_envelope("Other", {"payload": body})

    opened = await revealing.reveal(
        pool, [received, other], unread={"WebhookReceived": frozenset({"payload"})}
    )

    assert opened[0].data == {"payload": body, "event": "push", "sender": "someone"}
    assert list(opened[0].data) == ["payload", "event", "sender"]  # in their places
    assert opened[1].data == {"payload": '{"pusher": "someone"}'}  # another type: opened
    everything = await revealing.reveal(pool, [received])
    assert everything[0].data["payload"] == '{"pusher": "someone"}'  # nothing named: opened


async def test_an_event_whose_only_sealed_values_are_unread_needs_no_key(
    pool: asyncpg.Pool, keys: SubjectKeys
) -> None:
    subject, key = await keys.ensure(pool, unique_id("pusher-"), {})
    body = cipher.seal(subject, key, "the body")
    received = an_envelope("WebhookReceived", {"payload": body, "event": "push"})

    opened = await revealing.reveal(
        _NoConnection(),  # type: ignore[arg-type]
        [received],
        unread={"WebhookReceived": frozenset({"payload"})},
    )

    assert opened == [received]
