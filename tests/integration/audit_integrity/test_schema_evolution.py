"""An event stored under an older schema version is read, streamed and replayed as the current
one (upcast), says which version it was stored as, and its stored bytes still verify."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import asyncpg
import msgspec
import nats

from adapters.audit.verify import verify_stream
from adapters.platform.services import Services
from adapters.store import NewEvent, reader
from adapters.streaming.relay import Relay, RelayConfig, message
from domain.envelope import EventEnvelope
from domain.project import Project
from domain.registry import default_registry
from gateway import events as gateway_events

AT = datetime(2025, 6, 1, 9, 30, tzinfo=UTC)


async def store_v1_project(services: Services) -> tuple[uuid.UUID, int]:
    """A `ProjectCreated` as a deployment before `description` existed wrote it (schema v1)."""
    project = uuid.uuid4()
    v1 = {"name": "Legacy", "slug": f"legacy-{project.hex[:8]}", "occurred_at": AT.isoformat()}
    result = await services.store.append(
        str(project),
        "project",
        [NewEvent(type="ProjectCreated", data=v1, schema_version=1)],
        expected_version=0,
    )
    return project, result.last_position


async def test_the_registry_knows_project_created_at_v2() -> None:
    assert default_registry().event_type("ProjectCreated").schema_version == 2


async def test_the_write_side_reads_an_old_event_as_current(scratch_services: Services) -> None:
    project, _ = await store_v1_project(scratch_services)

    loaded = await scratch_services.repository.get(Project, project)

    assert (loaded.name, loaded.description, loaded.version) == ("Legacy", "", 1)
    stored = (await scratch_services.store.read_stream(str(project)))[0]
    assert stored.schema_version == 1 and "description" not in stored.data  # never rewritten


async def test_the_relay_and_the_gateway_serve_it_upcast(
    scratch_services: Services, scratch_url: str
) -> None:
    project, position = await store_v1_project(scratch_services)
    conn = await asyncpg.connect(scratch_url)
    try:
        relayed = await reader.read_after(conn, position - 1, 10)
        replayed = await gateway_events.batch(conn, position - 1, position, 10)
        report = await verify_stream(conn, str(project))
    finally:
        await conn.close()

    for envelope in (relayed[0], replayed[0]):
        assert (envelope.type, envelope.schema_version, envelope.stored_schema_version) == (
            "ProjectCreated",
            2,
            1,
        )
        assert envelope.data["description"] == ""
    body, _ = message.encode(relayed[0], 1024 * 1024)
    wire = msgspec.json.decode(body)
    assert (wire["schema_version"], wire["stored_schema_version"]) == (2, 1)
    assert report is not None and report.ok  # the stored v1 bytes are what was hashed


async def test_a_current_event_says_nothing_of_a_stored_version(
    scratch_services: Services, scratch_url: str
) -> None:
    result = await scratch_services.store.append(
        str(uuid.uuid4()),
        "project",
        [
            NewEvent(
                type="ProjectCreated",
                data={"name": "New", "slug": "new-one", "description": "d", "occurred_at": AT},
                schema_version=2,
            )
        ],
        expected_version=0,
    )
    conn = await asyncpg.connect(scratch_url)
    try:
        (envelope,) = await reader.read_after(conn, result.last_position - 1, 10)
    finally:
        await conn.close()

    assert envelope.stored_schema_version is None
    assert b"stored_schema_version" not in message.encode(envelope, 1024 * 1024)[0]


async def test_jetstream_carries_the_upcast_envelope(
    scratch_services: Services, scratch_url: str, nats_url: str
) -> None:
    tag = uuid.uuid4().hex[:10]
    config = RelayConfig(stream=f"T_{tag}", prefix=f"t{tag}.events", duplicate_window_s=60)
    project, position = await store_v1_project(scratch_services)
    stop = asyncio.Event()
    relay = asyncio.create_task(Relay(scratch_url, nats_url, config).run(stop))
    client = await nats.connect(nats_url)
    try:
        stream = client.jetstream()
        subject = f"{config.prefix}.*.*.project.{project}.ProjectCreated"
        async with asyncio.timeout(30):
            while True:  # until the relay has created its stream and published the event
                try:
                    found = await stream.get_last_msg(config.stream, subject)
                    break
                except (nats.js.errors.NotFoundError, nats.js.errors.Error):
                    await asyncio.sleep(0.1)
    finally:
        stop.set()
        await relay
        await client.jetstream().delete_stream(config.stream)
        await client.close()

    envelope = msgspec.json.decode(found.data, type=EventEnvelope)
    assert envelope.position == position
    assert (envelope.schema_version, envelope.stored_schema_version) == (2, 1)
    assert envelope.data["description"] == ""
