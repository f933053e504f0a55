"""The WebSocket gateway against real PostgreSQL, NATS and a relay: order, resume, auth, limits."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import jwt
import msgspec

from adapters.platform.admin_key import create_key
from adapters.store import EventStore
from adapters.streaming.relay import RelayConfig
from domain.api_key import ApiKey
from domain.envelope import EventEnvelope
from gateway import codes
from gateway.session import Session
from tests.integration.gateway.gatewaying import (
    JWT_SECRET,
    a_run,
    close_code,
    connect,
    gateway,
    leave,
    receive,
    refusal,
    step,
)


async def key(services: Any, project: str | None = None, scopes: tuple[str, ...] = ("read",)):
    return await create_key(
        services,
        name="watcher",
        scopes=scopes,
        project_id=None if project is None else UUID(project),
        at=datetime.now(UTC),
    )


async def test_a_runs_events_arrive_live_in_order_as_the_relay_publishes_them(
    store: EventStore, services: Any, relay: RelayConfig, database_url: str, nats_url: str
) -> None:
    run = await a_run(store)
    _, token = await key(services)
    async with gateway(database_url, nats_url, relay) as client:
        ws = await connect(client, f"/ws/runs/{run.run}", token=token, after=run.last)
        positions = [await step(store, run.run, i) for i in range(5)]
        received = await receive(ws, 5)
        await leave(ws)
    assert [m["position"] for m in received] == positions
    stored = [e for e in await store.read_stream(run.run) if e.position > run.last]
    assert [msgspec.convert(m, EventEnvelope, strict=False) for m in received] == stored


async def test_resume_across_the_seam_has_no_gap_and_no_duplicate(
    store: EventStore, services: Any, relay: RelayConfig, database_url: str, nats_url: str
) -> None:
    run = await a_run(store)
    _, token = await key(services)
    missed = [await step(store, run.run, i) for i in range(10)]
    other = await a_run(store)  # the pipeline watch must not carry another pipeline's run

    async def keep_appending() -> list[int]:
        found = []
        for i in range(40):
            found.append(await step(store, run.run, 100 + i))
            await step(store, other.run, i)
            await asyncio.sleep(0.005)
        return found

    async with gateway(database_url, nats_url, relay) as client:
        appending = asyncio.create_task(keep_appending())
        by_run = await connect(client, f"/ws/runs/{run.run}", token=token, after=run.last)
        by_pipeline = await connect(
            client,
            f"/ws/pipeline/{run.pipeline}",
            subprotocols=[f"flowledger.token.{token}"],
            after=0,
        )
        assert by_pipeline.accepted_subprotocol == f"flowledger.token.{token}"
        during = await appending
        expected = missed + during
        got_run = await receive(by_run, len(expected))
        got_pipeline = await receive(by_pipeline, len(expected) + 2)  # + its own and RunRequested
        for ws in (by_run, by_pipeline):
            await leave(ws)
    assert [m["position"] for m in got_run] == expected
    assert [m["position"] for m in got_pipeline][2:] == expected
    assert {m["stream_id"] for m in got_pipeline} == {run.pipeline, run.run}


async def test_a_project_key_sees_its_project_only(
    store: EventStore, services: Any, relay: RelayConfig, database_url: str, nats_url: str
) -> None:
    mine, theirs = await a_run(store), await a_run(store)
    _, token = await key(services, mine.project)
    async with gateway(database_url, nats_url, relay) as client:
        # Theirs are told exactly as ids that do not exist: 4404, naming nothing of theirs.
        for kind, path, target, nowhere in [
            ("run", "runs", theirs.run, uuid4()),
            ("pipeline", "pipeline", theirs.pipeline, uuid4()),
            ("project", "project", theirs.project, uuid4()),
        ]:
            refused = await refusal(client, f"/ws/{path}/{target}", token=token)
            missing = await refusal(client, f"/ws/{path}/{nowhere}", token=token)
            assert (refused.code, refused.detail) == (codes.NOT_FOUND, f"no {kind} {target}")
            assert (missing.code, missing.detail) == (codes.NOT_FOUND, f"no {kind} {nowhere}")
            if kind != "project":
                assert str(theirs.project) not in refused.detail
        after = await step(store, theirs.run, 0)  # past the key's own ApiKeyIssued, also its
        ws = await connect(client, "/ws/system", token=token, after=after)
        await step(store, theirs.run, 1)
        position = await step(store, mine.run, 1)
        [first] = await receive(ws, 1)
        await leave(ws)
    assert (first["stream_id"], first["position"]) == (mine.run, position)


async def test_missing_bad_or_unknown_is_refused_before_accepting(
    store: EventStore, services: Any, relay: RelayConfig, database_url: str, nats_url: str
) -> None:
    run = await a_run(store)
    _, token = await key(services)
    _, writer = await key(services, scopes=("write",))
    async with gateway(database_url, nats_url, relay) as client:
        assert (await refusal(client, f"/ws/runs/{run.run}")).code == codes.UNAUTHORIZED
        bad = await refusal(client, f"/ws/runs/{run.run}", token="fl_nope")
        assert bad.code == codes.UNAUTHORIZED
        # The reason names the real problem, not the JWT settings.
        assert "neither an API key" in bad.detail and "JWT secret" not in bad.detail
        unknown = await refusal(client, f"/ws/runs/{run.pipeline}", token=token)
        assert unknown.code == codes.NOT_FOUND
        # Not an id at all (a NUL, which the database could not even compare): unknown too.
        garbage = await refusal(client, "/ws/runs/a%00b", token=token)
        assert (garbage.code, garbage.detail) == (codes.NOT_FOUND, "no run")
        beyond = await refusal(client, f"/ws/runs/{run.run}", token=token, after=2**63)
        assert beyond.code == codes.BAD_REQUEST
        assert (await refusal(client, "/ws/system", token=writer)).code == codes.FORBIDDEN


async def test_a_jwt_for_one_project_watches_it(
    store: EventStore, relay: RelayConfig, database_url: str, nats_url: str
) -> None:
    run = await a_run(store)
    claims = {"sub": "ci", "exp": int(time.time()) + 60, "iat": int(time.time())}
    token = jwt.encode({**claims, "scopes": ["read"], "project": run.project}, JWT_SECRET)
    async with gateway(database_url, nats_url, relay) as client:
        ws = await connect(client, f"/ws/project/{run.project}", token=token, after=0)
        received = await receive(ws, 3)
        await leave(ws)
    assert [m["type"] for m in received] == ["ProjectCreated", "PipelineCreated", "RunRequested"]


async def test_a_revoked_key_is_disconnected(
    store: EventStore, services: Any, relay: RelayConfig, database_url: str, nats_url: str
) -> None:
    run = await a_run(store)
    key_id, token = await key(services)
    async with gateway(database_url, nats_url, relay, recheck_s=0.2) as client:
        ws = await connect(client, f"/ws/runs/{run.run}", token=token)
        revoked = await services.repository.get(ApiKey, key_id)
        revoked.revoke(revoked_by="admin", at=datetime.now(UTC))
        await services.repository.save(revoked)
        closed = await close_code(ws)
    assert closed.code == codes.UNAUTHORIZED


async def test_heartbeats_carry_the_last_position(
    store: EventStore, services: Any, relay: RelayConfig, database_url: str, nats_url: str
) -> None:
    run = await a_run(store)
    _, token = await key(services)
    async with gateway(database_url, nats_url, relay, heartbeat_s=0.2) as client:
        ws = await connect(client, f"/ws/runs/{run.run}", token=token, after=0)
        first = msgspec.json.decode(await asyncio.to_thread(ws.receive_text, timeout=10))
        beat = msgspec.json.decode(await asyncio.to_thread(ws.receive_text, timeout=10))
        await leave(ws)
    assert first["position"] == run.last
    assert beat == {"type": "heartbeat", "position": run.last}


async def test_a_slow_consumer_is_cut_off_while_a_fast_one_keeps_receiving(
    store: EventStore,
    services: Any,
    relay: RelayConfig,
    database_url: str,
    nats_url: str,
    monkeypatch: Any,
) -> None:
    original = Session.send

    async def send(self: Session, body: bytes | str) -> None:
        # The test client's socket never pushes back: a stalled network is simulated here.
        if self.socket.query_params.get("slow") and self.last > 0:
            await asyncio.Event().wait()
        await original(self, body)

    monkeypatch.setattr(Session, "send", send)
    run = await a_run(store)
    _, token = await key(services)
    async with gateway(database_url, nats_url, relay, queue_size=5) as client:
        slow = await connect(client, f"/ws/runs/{run.run}", token=token, after=0, slow=1)
        # Its replay sent first: a relay quicker than the replay would otherwise cut it off
        # while it has sent nothing (after=0), which is right, but not what is shown here.
        assert [m["position"] for m in await receive(slow, 1)] == [run.last]
        fast = await connect(client, f"/ws/runs/{run.run}", token=token, after=run.last)
        positions = [await step(store, run.run, i) for i in range(30)]
        got = await receive(fast, 30)
        closed = await close_code(slow)
        await leave(fast)
    assert [m["position"] for m in got] == positions
    assert closed.code == codes.SLOW_CONSUMER
    assert closed.detail == f"slow consumer; resume after={run.last}"
