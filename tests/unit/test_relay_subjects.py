"""Subject tokens are sanitised; the relay learns each stream's project and pipeline."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from adapters.streaming.relay import message
from adapters.streaming.relay.docs import PATH as DOCS
from adapters.streaming.relay.docs import render
from adapters.streaming.relay.subjects import Owner, filter_subject, learn, subject, token
from domain.envelope import EventEnvelope, EventMetadata


def envelope(type_: str, stream_id: str, stream_type: str, **data: object) -> EventEnvelope:
    return EventEnvelope(
        event_id=uuid.uuid4(),
        position=7,
        stream_id=stream_id,
        stream_type=stream_type,
        version=1,
        type=type_,
        schema_version=1,
        recorded_at=datetime.now(UTC),
        data=dict(data),
        metadata=EventMetadata(traceparent="00-abc-def-01"),
        hash="00",
    )


def test_tokens_cannot_break_the_subject() -> None:
    assert token("a.b*c>d e/é") == "a_b_c_d_e__"
    assert token(None) == "_"
    assert token("") == "_"
    assert token("Run-1_x") == "Run-1_x"


def test_a_run_subject_carries_its_project_and_pipeline() -> None:
    run = envelope("RunStarted", "r.1", "run")
    assert subject("flowledger.events", run, Owner("p", "q")) == (
        "flowledger.events.p.q.run.r_1.RunStarted"
    )
    assert subject("x", run, Owner()) == "x._._.run.r_1.RunStarted"


def test_owners_are_learnt_from_the_events_that_name_them() -> None:
    assert learn(envelope("ProjectCreated", "p", "project")) == Owner("p", None)
    assert learn(envelope("PipelineCreated", "q", "pipeline", project_id="p")) == Owner("p", "q")
    requested = envelope("RunRequested", "r", "run", project_id="p", pipeline_id="q")
    assert learn(requested) == Owner("p", "q")
    assert learn(envelope("ApiKeyIssued", "k", "api_key", project_id=None)) == Owner(None, None)
    assert learn(envelope("WebhookReceived", "d", "webhook_delivery", project_id="p")) == Owner("p")
    assert learn(envelope("RunStarted", "r", "run")) is None


def test_headers_and_an_oversized_body() -> None:
    event = envelope("WebhookReceived", "d", "webhook_delivery", body="x" * 10_000)
    body, headers = message.encode(event, 1024 * 1024)
    assert headers == {
        "Nats-Msg-Id": str(event.event_id),
        "Flowledger-Position": "7",
        "traceparent": "00-abc-def-01",
    }
    assert b"x" * 10_000 in body
    slim, slim_headers = message.encode(event, 8192)
    assert slim_headers["Flowledger-Data-Omitted"] == "too_large"
    assert b'"data":{"omitted":"too_large","bytes":100' in slim
    assert len(slim) < 8192


def test_the_streaming_contract_is_generated() -> None:
    assert DOCS.read_text() == render(), "run `uv run python -m adapters.streaming.relay.docs`"
    assert "### RunStarted" in render()


def test_filters_take_one_run_pipeline_project_or_type() -> None:
    p = "flowledger.events"
    assert filter_subject(p) == f"{p}.>"
    assert filter_subject(p, project="a.b") == f"{p}.a_b.>"
    assert filter_subject(p, pipeline="q") == f"{p}.*.q.>"
    assert filter_subject(p, stream_type="run", stream_id="r") == f"{p}.*.*.run.r.>"
    assert filter_subject(p, event_type="RunStarted") == f"{p}.*.*.*.*.RunStarted"
    assert filter_subject(p, pipeline="q", event_type="RunStarted") == f"{p}.*.q.*.*.RunStarted"
