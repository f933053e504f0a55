"""Deliveries over HTTP: verified before anything is written, recorded once, exactly as sent."""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

import msgspec
import pytest
from litestar.testing import AsyncTestClient
from prometheus_client import REGISTRY

from adapters.platform.services import Services
from adapters.store.reader import read_stream_current
from domain.webhook_delivery import delivery_stream_id
from tests.integration.webhooks.support import Delivery, Sample, Sources, samples, sign

SAMPLES = samples()


@pytest.fixture
def sources(client: AsyncTestClient, admin: dict[str, str]) -> Sources:
    return Sources(client, admin)


async def post(
    client: AsyncTestClient, kind: str, source: str, body: bytes, delivery: Delivery
) -> Any:
    return await client.post(
        f"/webhooks/{kind}/{source}", content=body, headers=delivery.headers, params=delivery.params
    )


async def stored(services: Services, delivery: str) -> list[Any]:
    return await read_stream_current(services.store.pool, delivery)


@pytest.mark.parametrize("sample", SAMPLES, ids=str)
async def test_every_genuine_payload_is_accepted_and_recorded_exactly(
    client: AsyncTestClient, services: Services, sources: Sources, sample: Sample
) -> None:
    source = await sources.register(sample.kind)
    body = sample.body
    sent = sign(sample.kind, source["secret"], body, event=sample.event)

    response = await post(client, sample.kind, source["id"], body, sent)

    assert response.status_code == 202, response.text
    answer = response.json()
    assert set(answer) == {"delivery", "position", "outcome"}
    assert answer["outcome"] == "accepted"
    [event] = await stored(services, answer["delivery"])
    assert (event.type, event.stream_type, event.position) == (
        "WebhookReceived",
        "webhook_delivery",
        answer["position"],
    )
    data = event.data
    assert data["payload"] == body.decode(), "the payload is the raw body, byte for byte"
    assert (data["source_id"], data["source_kind"], data["event"]) == (
        source["id"],
        sample.kind,
        sample.event,
    )
    expected_id = delivery_stream_id(UUID(source["id"]), data["delivery_id"])
    assert answer["delivery"] == str(expected_id)
    # The stream is the delivery's key: no idempotency key row to write under the append lock.
    assert event.metadata.idempotency_key is None
    assert event.metadata.actor == f"webhook:{source['name']}"
    assert data["content_type"] == sent.headers["Content-Type"]
    everything = msgspec.json.encode(event)
    for credential in sent.credentials:
        assert credential.encode() not in everything
    assert set(data["headers"]) <= {name.lower() for name in sent.headers}
    assert not {"authorization", "x-hub-signature-256", "x-gitlab-token"} & set(data["headers"])


@pytest.mark.parametrize("sample", SAMPLES, ids=str)
async def test_every_payload_is_refused_with_a_wrong_or_missing_signature(
    client: AsyncTestClient,
    services: Services,
    sources: Sources,
    sample: Sample,
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = await sources.register(sample.kind)
    body = sample.body
    wrong = sign(sample.kind, "not-the-secret-at-all", body, event=sample.event)
    missing = sign(sample.kind, source["secret"], body, event=sample.event)
    for name in ("X-Hub-Signature-256", "X-Gitlab-Token", "Authorization"):
        missing.headers.pop(name, None)
    head = await services.store.head_position()
    mismatches = refusals(sample.kind)
    bad_before = bad_deliveries(sample.kind)

    with caplog.at_level(logging.WARNING, logger="adapters.webhooks.ingest"):
        refused = [await post(client, sample.kind, source["id"], body, d) for d in (wrong, missing)]

    assert [r.status_code for r in refused] == [401, 401]
    assert {r.json()["code"] for r in refused} == {"bad_signature"}
    assert await services.store.head_position() == head, "a refused delivery writes nothing"
    assert refusals(sample.kind) == mismatches + 1
    assert bad_deliveries(sample.kind) == bad_before + 2
    lines = [r.getMessage() for r in caplog.records if r.name == "adapters.webhooks.ingest"]
    assert len(lines) == 2
    assert all(source["id"] in line for line in lines)
    for credential in (source["secret"], *wrong.credentials):
        assert not any(credential in line for line in lines)


async def test_a_redelivery_answers_the_first_record_and_appends_nothing(
    client: AsyncTestClient, services: Services, sources: Sources
) -> None:
    source = await sources.register("github")
    body = SAMPLES[0].body
    sent = sign("github", source["secret"], body, event="check_suite")
    first = await post(client, "github", source["id"], body, sent)
    head = await services.store.head_position()

    again = await post(client, "github", source["id"], body, sent)

    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json() == {**first.json(), "duplicate": True}
    assert await services.store.head_position() == head
    assert len(await stored(services, first.json()["delivery"])) == 1


async def test_a_changed_copy_of_a_delivery_is_still_the_first_delivery(
    client: AsyncTestClient, services: Services, sources: Sources
) -> None:
    source = await sources.register("gitlab")
    first_body, later_body = b'{"object_kind": "push"}', b'{"object_kind": "push", "x": 1}'
    first = sign("gitlab", source["secret"], first_body, event="Push Hook", delivery="idem-1")
    later = sign("gitlab", source["secret"], later_body, event="Push Hook", delivery="idem-1")

    answers = [
        await post(client, "gitlab", source["id"], b, d)
        for b, d in ((first_body, first), (later_body, later))
    ]

    assert [a.status_code for a in answers] == [202, 200]
    [event] = await stored(services, answers[0].json()["delivery"])
    assert event.data["payload"] == first_body.decode()


async def test_jenkins_phases_of_one_build_are_separate_deliveries(
    client: AsyncTestClient, services: Services, sources: Sources
) -> None:
    source = await sources.register("jenkins")
    bodies = [b'{"name": "app", "build": {"number": 7, "phase": "%s"}}' % p for p in (b"S", b"C")]
    answers = [
        await post(client, "jenkins", source["id"], b, sign("jenkins", source["secret"], b))
        for b in (*bodies, bodies[0])
    ]
    assert [a.status_code for a in answers] == [202, 202, 200]
    assert answers[0].json()["delivery"] != answers[1].json()["delivery"]
    assert answers[2].json()["delivery"] == answers[0].json()["delivery"]


async def test_a_jenkins_token_parameter_works_as_well_as_basic_auth(
    client: AsyncTestClient, services: Services, sources: Sources
) -> None:
    source = await sources.register("jenkins")
    body = b'{"name": "app", "build": {"phase": "STARTED", "number": 1}}'
    by_token = Delivery({"Content-Type": "application/json"}, params={"token": source["secret"]})
    wrong = Delivery({"Content-Type": "application/json"}, params={"token": "nope"})

    ok = await post(client, "jenkins", source["id"], body, by_token)
    refused = await post(client, "jenkins", source["id"], body + b" ", wrong)

    assert (ok.status_code, refused.status_code) == (202, 401)
    [event] = await stored(services, ok.json()["delivery"])
    assert source["secret"].encode() not in msgspec.json.encode(event)


def refusals(kind: str) -> float:
    labels = {"source": kind, "reason": "signature_mismatch"}
    return REGISTRY.get_sample_value("flowledger_webhook_refusals_total", labels) or 0.0


def bad_deliveries(kind: str) -> float:
    labels = {"source": kind, "outcome": "bad_signature"}
    return REGISTRY.get_sample_value("flowledger_webhook_deliveries_total", labels) or 0.0
