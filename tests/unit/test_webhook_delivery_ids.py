"""Delivery ids, event kinds and recorded headers, per provider."""

from __future__ import annotations

import hashlib

import pytest

from adapters.webhooks.delivery import RECORDED_HEADERS, delivery_id, event_kind, recorded_headers
from domain.webhook_delivery import CREDENTIAL_HEADERS

BODY = b'{"build": {"phase": "STARTED"}}'


def test_each_provider_names_its_delivery() -> None:
    assert delivery_id("github", {"x-github-delivery": "72d3162e"}, BODY) == "72d3162e"
    assert delivery_id("generic", {"webhook-id": "msg_1"}, BODY) == "msg_1"
    both = {"idempotency-key": "f5e5f430", "x-gitlab-event-uuid": "13792a34"}
    assert delivery_id("gitlab", both, BODY) == "f5e5f430"
    assert delivery_id("gitlab", {"x-gitlab-event-uuid": "13792a34"}, BODY) == "13792a34"


def test_jenkins_deliveries_are_named_by_their_body() -> None:
    started = delivery_id("jenkins", {}, BODY)
    assert started == "sha256:" + hashlib.sha256(BODY).hexdigest()
    assert delivery_id("jenkins", {}, BODY) == started
    assert delivery_id("jenkins", {}, BODY.replace(b"STARTED", b"COMPLETED")) != started


def test_a_missing_id_falls_back_to_the_body_and_a_long_one_is_hashed_whole() -> None:
    assert delivery_id("github", {"x-github-delivery": " "}, BODY).startswith("sha256:")
    long_a, long_b = "a" * 300, "a" * 299 + "b"
    assert len(delivery_id("generic", {"webhook-id": long_a}, BODY)) <= 255
    assert delivery_id("generic", {"webhook-id": long_a}, BODY) != delivery_id(
        "generic", {"webhook-id": long_b}, BODY
    )


def test_event_kinds() -> None:
    assert event_kind("github", {"x-github-event": "push"}, None) == "push"
    assert event_kind("gitlab", {"x-gitlab-event": "Pipeline Hook"}, None) == "Pipeline Hook"
    assert event_kind("jenkins", {}, "ignored") == "notification"
    assert event_kind("generic", {"webhook-event": "from-header"}, "invoice.paid") == "invoice.paid"
    assert event_kind("generic", {"webhook-event": "from-header"}, 7) == "from-header"
    assert event_kind("generic", {}, None) == "generic"
    assert event_kind("github", {}, None) == "unknown"


@pytest.mark.parametrize("kind", sorted(RECORDED_HEADERS))
def test_no_credential_header_is_ever_recorded(kind: str) -> None:
    everything = {name: "value" for names in RECORDED_HEADERS.values() for name in names}
    everything |= {name: "secret" for name in CREDENTIAL_HEADERS}
    kept = recorded_headers(kind, everything)
    assert "secret" not in kept.values()
    assert set(kept) == set(RECORDED_HEADERS[kind])
