"""The webhook route's answers as sent on the wire: the accepted answer's head and body, a
redelivery's, a refusal's problem, and the request metrics around them. The hot route serves
its answer without building a litestar response; these pin what it must still send."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.webhooks.support import Sources, samples, sign

PUSH = next(s for s in samples() if s.kind == "github" and s.event == "push")
ROUTE = "/webhooks/{kind}/{source}"

SECURITY_HEAD = [
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("content-security-policy", "default-src 'none'; frame-ancestors 'none'"),
    ("x-request-id", "*"),
]
JSON_HEAD = [("content-type", "application/json"), ("content-length", "*"), *SECURITY_HEAD]
"""What main sent with a 202 or a 200 (litestar's Response, then the before_send hooks)."""
PROBLEM_HEAD = [("content-type", "application/problem+json"), ("content-length", "*")]


@pytest.fixture
def sources(client: AsyncTestClient, admin: dict[str, str]) -> Sources:
    return Sources(client, admin)


def _head(response: Any) -> list[tuple[str, str]]:
    """The answer's headers in order, the per-request ones (id, length) named only."""
    return [
        (name, "*" if name in ("x-request-id", "content-length") else value)
        for name, value in response.headers.multi_items()
    ]


async def _counts(client: AsyncTestClient) -> dict[tuple[str, str], float]:
    """Requests answered on the route, by status, and webhook deliveries, by outcome."""
    text = (await client.get("/metrics")).text
    found: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if sample.name == "flowledger_http_requests_total" and labels["path"] == ROUTE:
                found["http", labels["status_code"]] = sample.value
            if sample.name == "flowledger_http_request_duration_seconds_count" and (
                labels["path"] == ROUTE
            ):
                found["timed", labels["method"]] = sample.value
            if sample.name == "flowledger_webhook_deliveries_total" and (
                labels["source"] == "github"
            ):
                found["delivery", labels["outcome"]] = sample.value
    return found


def _grew(before: dict[Any, float], after: dict[Any, float]) -> dict[Any, float]:
    return {k: v - before.get(k, 0.0) for k, v in after.items() if v != before.get(k, 0.0)}


async def test_an_accepted_delivery_and_its_redelivery_are_answered_as_before(
    client: AsyncTestClient, sources: Sources
) -> None:
    source = await sources.register("github")
    sent = sign("github", source["secret"], PUSH.body, event="push")
    path = f"/webhooks/github/{source['id']}"
    before = await _counts(client)

    accepted = await client.post(path, content=PUSH.body, headers=sent.headers)
    again = await client.post(path, content=PUSH.body, headers=sent.headers)

    assert (accepted.status_code, again.status_code) == (202, 200), accepted.text
    assert _head(accepted) == _head(again) == JSON_HEAD
    assert accepted.headers["content-length"] == str(len(accepted.content))
    assert accepted.headers["x-request-id"] != again.headers["x-request-id"]
    assert list(accepted.json()) == ["delivery", "position", "outcome"]
    assert again.json() == {**accepted.json(), "duplicate": True}
    assert _grew(before, await _counts(client)) == {
        ("http", "202"): 1,
        ("http", "200"): 1,
        ("timed", "POST"): 2,
        ("delivery", "accepted"): 1,
        ("delivery", "duplicate"): 1,
    }


async def test_a_callers_request_id_is_echoed(client: AsyncTestClient, sources: Sources) -> None:
    source = await sources.register("github")
    sent = sign("github", source["secret"], PUSH.body, event="push")

    answer = await client.post(
        f"/webhooks/github/{source['id']}",
        content=PUSH.body,
        headers={**sent.headers, "X-Request-ID": "hook-42"},
    )

    assert answer.status_code == 202
    assert answer.headers["x-request-id"] == "hook-42"


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("unknown source", 404, "unknown_source"),
        ("bad signature", 401, "bad_signature"),
        ("malformed body", 400, "malformed_json"),
        ("too large", 413, "payload_too_large"),
    ],
)
async def test_a_refusal_is_a_problem_answered_as_before(
    client: AsyncTestClient, sources: Sources, case: str, status: int, code: str
) -> None:
    source = await sources.register("github")
    body = {"malformed body": b"[1, 2]", "too large": b"{" + b" " * (26 * 1024 * 1024) + b"}"}
    sent_body = body.get(case, PUSH.body)
    secret = "not-the-secret" if case == "bad signature" else source["secret"]
    sent = sign("github", secret, sent_body, event="push")
    ref = "no-such-source" if case == "unknown source" else source["id"]
    before = await _counts(client)

    answer = await client.post(f"/webhooks/github/{ref}", content=sent_body, headers=sent.headers)

    assert answer.status_code == status, answer.text
    assert answer.json()["code"] == code
    assert answer.json()["status"] == status
    assert _head(answer) == [*PROBLEM_HEAD, *SECURITY_HEAD]
    outcome = "bad_signature" if status == 401 else "rejected"
    assert _grew(before, await _counts(client)) == {
        ("http", str(status)): 1,
        ("timed", "POST"): 1,
        ("delivery", outcome): 1,
    }


def test_no_layer_adds_what_the_lighter_route_would_skip(client: AsyncTestClient) -> None:
    # `_answered_raw` answers in place of litestar's handler call, which is where guards,
    # before_request and after_response hooks, and layered response headers and cookies are
    # applied. One added to the app, a router or the controller would be missed on this route
    # without a word: this test makes it fail loudly instead.
    handlers = [
        handler
        for route in client.app.routes
        if route.path.startswith("/webhooks/{kind") and route.path.count("{") == 2
        for handler in getattr(route, "route_handlers", ())
        if "POST" in handler.http_methods
    ]

    assert len(handlers) == 1, [r.path for r in client.app.routes]
    (receive,) = handlers
    assert receive.resolve_guards() == []
    assert receive.resolve_before_request() is None
    assert receive.resolve_after_response() is None
    assert receive.resolve_response_headers() == frozenset()
    assert receive.resolve_response_cookies() == frozenset()
