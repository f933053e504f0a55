"""One event as a JetStream message: its subject's body and headers."""

from __future__ import annotations

import msgspec

from domain.envelope import EventEnvelope

MSG_ID = "Nats-Msg-Id"
POSITION = "Flowledger-Position"
DATA_OMITTED = "Flowledger-Data-Omitted"
TRACEPARENT = "traceparent"
TOO_LARGE = "too_large"
HEADROOM = 4096
"""Bytes kept free under `max_payload` for the subject, the headers and the protocol line."""

_encoder = msgspec.json.Encoder()


def headers(envelope: EventEnvelope) -> dict[str, str]:
    found = {MSG_ID: str(envelope.event_id), POSITION: str(envelope.position)}
    if envelope.metadata.traceparent:
        found[TRACEPARENT] = envelope.metadata.traceparent
    return found


def encode(envelope: EventEnvelope, max_payload: int) -> tuple[bytes, dict[str, str]]:
    """The body and headers; a body over `max_payload` goes without its data."""
    body = _encoder.encode(envelope)
    found = headers(envelope)
    if len(body) <= max_payload - HEADROOM:
        return body, found
    size = len(_encoder.encode(envelope.data))
    slim = msgspec.structs.replace(envelope, data={"omitted": TOO_LARGE, "bytes": size})
    return _encoder.encode(slim), {**found, DATA_OMITTED: TOO_LARGE}
