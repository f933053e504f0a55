"""`flowledger tail`'s line: one event, compact, with what a person scanning a terminal needs."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import msgspec
from nats.aio.msg import Msg

from adapters.streaming.relay import message
from adapters.streaming.tail import line
from domain.envelope import EventEnvelope, EventMetadata


def a_message(event_type: str, data: dict[str, object], **headers: str) -> Msg:
    envelope = EventEnvelope(
        event_id=uuid.uuid4(),
        position=42,
        stream_id="0b9c6a52-2f0e-4a3c-9d55-0c1f2b9a7e10",
        stream_type="run",
        version=3,
        type=event_type,
        schema_version=1,
        recorded_at=datetime(2026, 3, 1, 13, 0, 5, 123456, tzinfo=timezone(timedelta(hours=1))),
        data=data,
        metadata=EventMetadata(),
        hash="00",
    )
    body = msgspec.json.encode(envelope)
    return Msg(None, subject="s", data=body, headers=message.headers(envelope) | headers)


def test_a_line_holds_time_position_stream_type_and_a_few_fields() -> None:
    msg = a_message(
        "StepFinished",
        {
            "step": "build",
            "reason": "",
            "exit_code": 0,
            "outputs": {"image": "x"},
            "note": 'two "words"\nand a line ' + "y" * 50,
            "metrics": {"seconds": 1.5},
            "occurred_at": "2026-03-01T12:00:05Z",
        },
    )

    assert line(msg) == (
        "2026-03-01T12:00:05.123Z  42  run 0b9c6a52-2f0e-4a3c-9d55-0c1f2b9a7e10  StepFinished  "
        'step=build exit_code=0 outputs={"image":"x"} note="two \\"words\\"\\nand a line '
        + "y" * 15
        + '…"'
    )


def test_an_oversized_event_says_its_data_was_left_out() -> None:
    msg = a_message(
        "WebhookReceived", {"omitted": "too_large"}, **{message.DATA_OMITTED: message.TOO_LARGE}
    )
    assert line(msg).endswith("  WebhookReceived  (data omitted: too large)")


def test_something_else_on_the_subject_does_not_stop_the_tail() -> None:
    assert line(Msg(None, subject="x.y", data=b"not json")) == "x.y  (not an event envelope)"
