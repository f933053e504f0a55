"""NATS keeps personal values sealed: readable while the subject's key lives, erased after."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import msgspec

from adapters.platform.admin_key import operator
from adapters.platform.services import Services
from adapters.store import NewEvent
from adapters.streaming.relay import Relay
from commands.data_subjects import EraseDataSubject
from domain.envelope import EventEnvelope, EventMetadata
from domain.personal import ERASED
from gateway.events import opened
from tests.helpers import unique_id
from tests.integration.relay.relaying import (
    read,
    running,
    start_at_head,
    unique_config,
    wait_checkpoint,
)


async def test_a_fresh_nats_replay_holds_no_clear_name_and_shows_erased_once_forgotten(
    services: Services, database_url: str, nats_url: str
) -> None:
    person = unique_id("dev-")
    run = str(uuid.uuid4())
    config = unique_config()
    await start_at_head(database_url, config)
    metadata = EventMetadata(correlation_id=run, actor=person, personal_actor=True)
    event = NewEvent(type="RunStarted", data={"occurred_at": "2026-04-01T12:00:00Z"})
    async with running(Relay(database_url, nats_url, config)):
        written = await services.store.append(
            run, "run", [event], expected_version=0, metadata=metadata
        )
        await wait_checkpoint(database_url, config.stream, written.last_position)
    [message] = await read(nats_url, f"{config.prefix}.*.*.run.{run}.*")

    # On NATS as stored: sealed. The gateway opens it for its clients.
    assert person.encode() not in message.data
    pool = services.store.pool
    live = msgspec.json.decode(await opened(pool, message.data), type=EventEnvelope)
    assert live.metadata.actor == person

    subject = msgspec.json.decode(message.data, type=EventEnvelope).metadata.actor.split(":")[2]
    context = operator("dpo", at=datetime.now(UTC))
    await services.bus.dispatch(EraseDataSubject(subject_id=subject, reason="asked to"), context)

    # A fresh replay from JetStream: the same sealed bytes, which now open to `[erased]`.
    [again] = await read(nats_url, f"{config.prefix}.*.*.run.{run}.*")
    assert person.encode() not in again.data
    replayed = msgspec.json.decode(await opened(pool, again.data), type=EventEnvelope)
    assert replayed.metadata.actor == ERASED
