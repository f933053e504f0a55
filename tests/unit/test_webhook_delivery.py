"""Specs for the WebhookDelivery aggregate: given past events, when a command, then an outcome."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

import pytest
from hypothesis import given
from hypothesis import strategies as st
from specs import Spec

from domain.errors import IllegalTransition, InvalidValue
from domain.registry import Registry
from domain.webhook_delivery import WebhookDelivery, delivery_stream_id

REGISTRY = Registry(WebhookDelivery)
SOURCE = UUID("0195f1d0-0000-7000-8000-0000000000d1")
PROJECT = UUID("0195f1d0-0000-7000-8000-0000000000d2")
RUN_1 = UUID("0195f1d0-0000-7000-8000-0000000000d3")
RUN_2 = UUID("0195f1d0-0000-7000-8000-0000000000d4")
DELIVERY = "72d3162e-cc78-11e3-81ab-4c9367dc0958"
ID = delivery_stream_id(SOURCE, DELIVERY)
T0 = datetime(2025, 3, 1, 9, 30, 0, 123456, tzinfo=UTC)
T1 = T0 + timedelta(seconds=2)
BODY = '{"zen": "Design for failure.",\n "hook_id": 1}'
HEADERS = {
    "x-github-event": "ping",
    "x-github-delivery": DELIVERY,
    "user-agent": "GitHub-Hookshot/1",
}

RECEIVED = (
    "WebhookReceived",
    {
        "source_id": SOURCE,
        "project_id": PROJECT,
        "source_kind": "github",
        "delivery_id": DELIVERY,
        "event": "ping",
        "headers": HEADERS,
        "content_type": "application/json",
        "payload": BODY,
        "occurred_at": T0,
    },
)
TRIGGERED = (
    "WebhookDeliveryProcessed",
    {"outcome": "triggered", "runs": (RUN_1, RUN_2), "reason": "", "occurred_at": T1},
)


def spec() -> Spec[WebhookDelivery]:
    return Spec(WebhookDelivery, ID, registry=REGISTRY)


def receive(**overrides: Any):
    args = {
        "id": ID,
        "source_id": SOURCE,
        "project_id": PROJECT,
        "source_kind": "github",
        "delivery_id": DELIVERY,
        "event": "ping",
        "headers": HEADERS,
        "content_type": "application/json",
        "payload": BODY,
        "at": T0,
    } | overrides
    return lambda _: WebhookDelivery.receive(**args)


def outcome(outcome: str = "triggered", runs=(RUN_1, RUN_2), reason: str = "", at=T1):
    return lambda d: d.record_outcome(outcome=outcome, runs=runs, reason=reason, at=at)


def test_the_stream_id_is_a_pure_function_of_the_source_and_the_delivery_id() -> None:
    assert delivery_stream_id(SOURCE, DELIVERY) == ID
    assert ID.version == 5
    assert delivery_stream_id(SOURCE, "other") != ID
    assert delivery_stream_id(PROJECT, DELIVERY) != ID
    # Fixed forever: every delivery ever recorded has its stream under this id.
    assert str(ID) == "55f3336f-ccf7-55a2-94c1-fed0fd061d1f"


def _uuid5(source: UUID, delivery: str) -> UUID:
    """What the stream id has always been."""
    return uuid5(UUID("6d1c2f0e-5b7a-4c39-9f0b-2a8e4d7c1b55"), f"{source}:{delivery}")


@given(st.uuids(), st.text(max_size=300))
def test_the_stream_id_is_uuid5_of_the_source_and_the_delivery_id(
    source: UUID, delivery: str
) -> None:
    assert delivery_stream_id(source, delivery) == _uuid5(source, delivery)


def test_receiving_records_the_raw_payload_exactly_and_the_headers_that_matter() -> None:
    delivery = spec().given().when(receive()).then(RECEIVED)
    assert (delivery.id, delivery.version, delivery.outcome) == (ID, 1, None)
    assert delivery.payload == BODY
    assert delivery.created_on == T0


def test_header_names_are_recorded_in_lower_case() -> None:
    spec().given().when(receive(headers={"X-GitHub-Event": "ping"})).then(
        (RECEIVED[0], RECEIVED[1] | {"headers": {"x-github-event": "ping"}})
    )


@pytest.mark.parametrize(
    "header", ["Authorization", "X-Hub-Signature-256", "x-hub-signature", "X-Gitlab-Token"]
)
def test_a_credential_header_is_never_recorded(header: str) -> None:
    error = (
        spec()
        .given()
        .when(receive(headers={**HEADERS, header: "secret"}))
        .then_raises(InvalidValue, field="headers")
    )
    assert "secret" not in str(error)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"id": SOURCE}, "id"),
        ({"delivery_id": ""}, "delivery_id"),
        ({"delivery_id": "x" * 256}, "delivery_id"),
        ({"event": ""}, "event"),
        ({"source_kind": "bitbucket"}, "source_kind"),
        ({"at": datetime(2025, 3, 1)}, "at"),
    ],
)
def test_a_malformed_delivery_is_refused(overrides: dict[str, Any], field: str) -> None:
    spec().given().when(receive(**overrides)).then_raises(InvalidValue, field=field)


def test_recording_the_outcome_once() -> None:
    delivery = spec().given(RECEIVED).when(outcome()).then(TRIGGERED)
    assert (delivery.outcome, delivery.runs, delivery.reason) == ("triggered", (RUN_1, RUN_2), "")


def test_an_ignored_delivery_says_why() -> None:
    ignored = ("WebhookDeliveryProcessed", {"outcome": "ignored", "runs": (), "reason": "ping"})
    spec().given(RECEIVED).when(outcome("ignored", runs=[], reason=" ping ")).then(
        (ignored[0], ignored[1] | {"occurred_at": T1})
    )


def test_recording_the_same_outcome_again_decides_nothing() -> None:
    later = T1 + timedelta(minutes=1)
    spec().given(RECEIVED, TRIGGERED).when(outcome(runs=[RUN_1, RUN_2], at=later)).then()


@pytest.mark.parametrize(
    "command",
    [outcome("failed", runs=(), reason="boom"), outcome(runs=(RUN_1,)), outcome(reason="more")],
)
def test_a_different_outcome_after_the_first_is_illegal(command) -> None:
    spec().given(RECEIVED, TRIGGERED).when(command).then_raises(
        IllegalTransition, current_state="processed"
    )


@pytest.mark.parametrize(
    ("command", "field"),
    [
        (outcome("started"), "outcome"),
        (outcome(reason="x" * 2001), "reason"),
        (outcome(at=datetime(2025, 3, 1)), "at"),
    ],
)
def test_a_malformed_outcome_is_refused(command, field: str) -> None:
    spec().given(RECEIVED).when(command).then_raises(InvalidValue, field=field)
