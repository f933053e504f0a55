"""Erasure that keeps replay: a committer's data sealed per subject, readable, then forgotten."""

from __future__ import annotations

import io
import json
from uuid import UUID

import pytest
from litestar.testing import AsyncTestClient

from adapters.audit.export import export
from adapters.audit.reads import FeedFilters
from adapters.store.personal.reveal import reveal
from adapters.store.reader import read_after, read_stream_current
from domain.data_subject import DataSubject, subject_stream_id
from domain.personal import ERASED
from domain.run import Run
from domain.trigger_spec import TriggerSpec
from domain.webhook_delivery import WebhookDelivery
from projections.rebuild import rebuild
from projections.runs import RunsProjection
from tests.helpers import unique_id
from tests.integration.api.conftest import Keys
from tests.integration.webhooks.intake_world import (  # noqa: F401  (the `world` fixture)
    World,
    world_fixture,
)
from tests.integration.webhooks.support import FIXTURES, sign

SECRET = "s" * 32


def push_by(login: str, email: str) -> bytes:
    body = json.loads((FIXTURES / "github" / "push.branch-created.json").read_bytes())
    body["pusher"] = {"name": login, "email": email}
    body["sender"]["login"] = login
    body["sender"]["avatar_url"] = f"https://avatars.example/{login}.png"
    body["head_commit"]["author"] = {"name": login, "email": email, "username": login}
    return json.dumps(body).encode()


@pytest.mark.usefixtures("projector")
async def test_a_committer_is_sealed_readable_then_erased_and_everything_still_replays(
    world: World, client: AsyncTestClient, admin: dict[str, str], keys: Keys, database_url: str
) -> None:
    login = unique_id("dev-")
    email = f"{login}@example.com"
    project = await world.project()
    await world.pipeline(project, TriggerSpec(source="github", events=("push",)))
    source = await world.source(project, "github")

    # A signed GitHub push, through the API.
    body = push_by(login, email)
    sent = sign("github", SECRET, body, event="push")
    response = await client.post(f"/webhooks/github/{source}", content=body, headers=sent.headers)
    assert response.status_code == 202, response.text
    delivery = response.json()["delivery"]
    [received] = await read_stream_current(world.pool, delivery)
    outcome = await world.handle(received)
    assert outcome.outcome == "triggered", outcome.reason
    run_id = outcome.runs[0]

    # 1. Stored sealed: nothing of the person in clear in the events table, on any stream.
    stored = await world.pool.fetch(
        "SELECT data::text AS data, metadata::text AS metadata FROM events "
        "WHERE stream_id = ANY($1::text[])",
        [delivery, str(run_id)],
    )
    assert stored and all(login not in r["data"] + r["metadata"] for r in stored)
    assert all(email not in r["data"] for r in stored)

    # 2. Readable before erasure: history, export, the feed the relay publishes (sealed,
    #    opened by whoever reads it with the keys).
    history = await client.get(f"/api/v1/pipeline-runs/{run_id}/history", headers=admin)
    assert history.status_code == 200, history.text
    assert login in history.text
    exported = await export_of(database_url, delivery)
    assert email in exported and login in exported, exported[exported.find("payload") :][:300]
    assert (await run_view(client, admin, world, run_id))["actor"] == login
    published = await published_of(world, delivery, str(run_id))
    assert all(login not in json.dumps(e.data) for e in published)
    opened = await reveal(world.pool, published)
    assert any(email in e.data.get("payload", "") for e in opened)

    # 3. An admin finds the subject by e-mail; others may not erase; an unknown subject is 404.
    found = await client.get("/api/v1/data-subjects", params={"email": email}, headers=admin)
    assert found.status_code == 200, found.text
    subject = found.json()["subject_id"]
    by_login = await client.get("/api/v1/data-subjects", params={"login": login}, headers=admin)
    assert by_login.json()["subject_id"] == subject
    writer = await keys.make("write", "read", name="writer")
    why = {"reason": "GDPR art. 17 request #42"}
    refused = await client.post(f"/api/v1/data-subjects/{subject}/erase", json=why, headers=writer)
    assert refused.status_code == 403, refused.text
    unknown = await client.post(
        f"/api/v1/data-subjects/ds_{'0' * 32}/erase", json=why, headers=admin
    )
    assert unknown.status_code == 404, unknown.text

    # 4. Erased: the erasure is an event saying who and why, with no personal data.
    erased = await client.post(f"/api/v1/data-subjects/{subject}/erase", json=why, headers=admin)
    assert erased.status_code == 202, erased.text
    record = await world.services.repository.get(DataSubject, subject_stream_id(subject))
    assert (record.subject_id, record.erased_by, record.reason) == (subject, "root", why["reason"])
    again = await client.post(f"/api/v1/data-subjects/{subject}/erase", json=why, headers=admin)
    assert again.status_code == 202, again.text
    gone = await client.get("/api/v1/data-subjects", params={"email": email}, headers=admin)
    assert gone.status_code == 404

    # 5. Every reader shows `[erased]`: history, export, the run's events, the published feed.
    history = await client.get(f"/api/v1/pipeline-runs/{run_id}/history", headers=admin)
    assert login not in history.text and ERASED in history.text
    exported = await export_of(database_url, delivery)
    assert email not in exported and login not in exported and ERASED in exported
    [requested, *_] = await read_stream_current(world.pool, str(run_id))
    assert requested.data["trigger"]["actor"] == requested.metadata.actor == ERASED
    # The run view shows `[erased]` as soon as it applied the erasure, and after a rebuild.
    assert (await run_view(client, admin, world, run_id))["actor"] == ERASED
    await rebuild(database_url, RunsProjection())
    assert (await run_view(client, admin, world, run_id))["actor"] == ERASED
    opened = await reveal(world.pool, await published_of(world, delivery, str(run_id)))
    assert [e.data["payload"] for e in opened if e.type == "WebhookReceived"] == [ERASED]

    # 6. Every aggregate still replays, and the chains still verify (they cover what is stored).
    assert (await world.services.repository.get(Run, run_id)).id == run_id
    assert (await world.services.repository.get(WebhookDelivery, UUID(delivery))).outcome
    for stream in (delivery, str(run_id)):
        verified = await client.get(
            "/api/v1/audit/verify", params={"stream": stream}, headers=admin
        )
        assert verified.status_code == 200 and verified.json()["ok"] is True, verified.text


async def run_view(
    client: AsyncTestClient, admin: dict[str, str], world: World, run_id: UUID
) -> dict:
    head = await world.pool.fetchval("SELECT max(position) FROM events")
    params = {"min_position": head}
    response = await client.get(f"/api/v1/pipeline-runs/{run_id}", params=params, headers=admin)
    assert response.status_code == 200, response.text
    return response.json()


async def export_of(database_url: str, stream_id: str) -> str:
    out = io.BytesIO()
    await export(database_url, out, filters=FeedFilters(stream_types=("webhook_delivery",)))
    return "\n".join(line for line in out.getvalue().decode().splitlines() if stream_id in line)


async def published_of(world: World, *streams: str) -> list:
    """What the relay publishes to NATS for these streams: the feed as `read_after` hands it."""
    first = await world.pool.fetchval(
        "SELECT min(position) FROM events WHERE stream_id = ANY($1::text[])", list(streams)
    )
    batch = await read_after(world.pool, first - 1, 10_000)
    return [e for e in batch if e.stream_id in streams]
