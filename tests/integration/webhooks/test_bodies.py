"""Bodies: up to 25 MiB (not the API's limit), JSON only, Standard Webhooks timestamps."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

import pytest
from litestar.testing import AsyncTestClient

from adapters.platform.services import Services
from adapters.store.reader import read_stream_current
from adapters.webhooks.limits import MAX_BODY_BYTES
from tests.integration.webhooks.support import FIXTURES, Delivery, Sources, sign, standard


@pytest.fixture
def sources(client: AsyncTestClient, admin: dict[str, str]) -> Sources:
    return Sources(client, admin)


async def post(client: AsyncTestClient, kind: str, source: str, body: bytes, sent: Delivery) -> Any:
    return await client.post(f"/webhooks/{kind}/{source}", content=body, headers=sent.headers)


def push_deliveries_of(size: int) -> bytes:
    """Compact JSON the way GitHub sends it, of exactly `size` bytes: many commits, padded."""
    push = json.loads((FIXTURES / "github" / "push.branch-created.json").read_bytes())
    commit, compact = push["commits"][0], {"separators": (",", ":")}
    base = len(json.dumps({**push, "pad": ""}, **compact).encode())
    many = (size - base) // (len(json.dumps(commit, **compact).encode()) + 1)
    body = json.dumps({**push, "commits": [commit] * many, "pad": ""}, **compact).encode()
    padding = size - len(body)
    assert padding >= 0
    return body.replace(b'"pad":""', b'"pad":"' + b"x" * padding + b'"')


async def test_a_body_of_exactly_25_mib_is_recorded_whole(
    client: AsyncTestClient, services: Services, sources: Sources, settings: Any
) -> None:
    assert settings.max_body_bytes < MAX_BODY_BYTES, "the API's own limit must not apply here"
    source = await sources.register("github")
    body = push_deliveries_of(MAX_BODY_BYTES)

    response = await post(
        client, "github", source["id"], body, sign("github", source["secret"], body, event="push")
    )

    assert response.status_code == 202, response.text[:500]
    [event] = await read_stream_current(services.store.pool, response.json()["delivery"])
    assert len(event.data["payload"]) == MAX_BODY_BYTES


async def test_a_body_one_byte_over_25_mib_is_refused_before_anything_else(
    client: AsyncTestClient, services: Services, sources: Sources
) -> None:
    source = await sources.register("github")
    body = b" " * (MAX_BODY_BYTES + 1)
    head = await services.store.head_position()

    unsigned = await post(client, "github", source["id"], body, Delivery({}))
    unknown = await post(client, "github", "no-such-source", body, Delivery({}))

    assert (unsigned.status_code, unknown.status_code) == (413, 413)
    assert unsigned.json()["code"] == "payload_too_large"
    assert await services.store.head_position() == head


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"payload=%7B%22zen%22%3A%22x%22%7D",
        b'["an", "array"]',
        b'{"a": "\xff"}',
        b'{"type": "caf\xe9"}',
        b'{"a": ' + b"[" * 1500 + b"]" * 1500 + b"}",
        b'{"type": ' + b"{" * 5000,
    ],
    ids=["empty", "text", "form-encoded", "array", "bad-utf8", "bad-utf8-type", "deep", "deep-cut"],
)
async def test_a_signed_body_that_is_not_a_json_object_is_refused(
    client: AsyncTestClient, services: Services, sources: Sources, body: bytes
) -> None:
    source = await sources.register("gitlab")
    head = await services.store.head_position()

    response = await post(
        client,
        "gitlab",
        source["id"],
        body,
        sign("gitlab", source["secret"], body, event="Push Hook"),
    )

    assert response.status_code == 400, response.text
    assert response.json()["code"] == "malformed_json"
    assert await services.store.head_position() == head


async def test_a_generic_delivery_is_named_by_its_type_and_may_use_a_whsec_secret(
    client: AsyncTestClient, services: Services, sources: Sources
) -> None:
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    source = await sources.register("generic", secret=secret)
    body = b'{"type": "invoice.paid", "data": {"id": 1}}'
    sent = standard(secret, body)

    response = await post(client, "generic", source["id"], body, sent)

    assert response.status_code == 202, response.text
    [event] = await read_stream_current(services.store.pool, response.json()["delivery"])
    assert (event.data["event"], event.data["delivery_id"]) == (
        "invoice.paid",
        sent.headers["webhook-id"],
    )
    assert "webhook-signature" not in event.data["headers"]


@pytest.mark.parametrize("skew_s", [-301, 301], ids=["stale", "future"])
async def test_a_generic_delivery_signed_over_five_minutes_away_is_refused(
    client: AsyncTestClient, services: Services, sources: Sources, skew_s: int
) -> None:
    source = await sources.register("generic")
    body = b'{"type": "ping"}'
    head = await services.store.head_position()

    response = await post(
        client,
        "generic",
        source["id"],
        body,
        standard(source["secret"], body, at=time.time() + skew_s),
    )

    assert response.status_code == 401
    assert response.json()["code"] == "bad_signature"
    assert await services.store.head_position() == head


@pytest.mark.parametrize("name", ["a\x00b", "n" * 5000])
async def test_a_source_named_absurdly_is_unknown(
    client: AsyncTestClient, services: Services, sources: Sources, name: str
) -> None:
    body = b'{"zen": "x"}'

    by_path = await client.post(f"/webhooks/github/{quote(name, safe='')}", content=body)
    by_query = await client.post("/webhooks/github", params={"source": name}, content=body)

    for response in (by_path, by_query):
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "unknown_source"
        assert len(response.text) < 1000
