"""Takes in one delivery: find its source, verify it, record it once, say what became of it.

Nothing is written before the signature is verified: an anonymous flood must not grow the
event store. The record is the `RecordWebhookDelivery` command, sent through the command bus;
turning the delivery into run commands happens later, in a process manager.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import msgspec

from adapters.http.problems import problem
from adapters.platform.secrets import SecretUnsealError
from adapters.platform.services import Services
from adapters.store.errors import GuardMoved
from adapters.store.read_guards import NotedReads, guarded_reads
from adapters.telemetry.metrics import WEBHOOK_REFUSALS
from adapters.telemetry.tracing import current_traceparent, valid_traceparent
from adapters.webhooks.delivery import delivery_id, event_kind, recorded_headers
from adapters.webhooks.opened_secrets import OPENED
from adapters.webhooks.sources import find_source
from adapters.webhooks.verify import BadSignature, verify
from commands.context import CommandContext
from commands.ports import VersionConflict
from commands.webhook_deliveries import RecordWebhookDelivery, delivery_sender
from domain.webhook_delivery import WebhookDelivery, delivery_stream_id
from domain.webhook_source import WebhookSource

log = logging.getLogger(__name__)

"""Deliveries refused for their signature, by `(kind, reason)`; never reset while running."""


class Processed(msgspec.Struct, frozen=True, kw_only=True):
    """What the process manager made of the delivery."""

    outcome: str
    runs: tuple[UUID, ...]
    reason: str


class Receipt(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The answer to a delivery: 202 the first time, 200 with `duplicate` for a redelivery."""

    delivery: UUID
    """The delivery's stream id."""
    position: int
    """The global position of its `WebhookReceived` event."""
    outcome: Literal["accepted"]
    duplicate: bool = False
    processed: Processed | None = None
    """Once the delivery has been processed (redeliveries only: the first answer is at once)."""


class _Top(msgspec.Struct):
    """Only the top-level `type`: the rest of the body is checked but never built."""

    type: Any = None


_top_level = msgspec.json.Decoder(_Top)


async def ingest(
    services: Services,
    *,
    kind: str,
    source: str | None,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    body: bytes,
    now: datetime,
) -> Receipt:
    """Record a delivery, or find the first record of it; raises problem details otherwise.

    `headers` are looked up by lower-case name. The body's size is the caller's to check.

    The source is taken from the process's cache without reading its stream's tail: the record's
    append carries it as a read guard (adapters/store/read_guards.py), so a rotation or a
    disabling committed meanwhile fails the append and the delivery is taken in again on the
    fresh source. An answer that writes nothing (a refusal, a redelivery) first checks that the
    source it was decided on is still current, and is decided again if not.
    """
    for attempt in range(1, _ATTEMPTS + 1):
        with guarded_reads(trust_cache=attempt == 1) as noted:
            try:
                receipt = await _ingest_once(
                    services,
                    kind=kind,
                    source=source,
                    headers=headers,
                    query=query,
                    body=body,
                    now=now,
                )
            except GuardMoved:
                if attempt == _ATTEMPTS:
                    raise problem(
                        503, "source_changing", "the source is being changed: send it again"
                    ) from None
                continue
            except Exception:
                if await _stale(services, noted):
                    continue
                raise
            if receipt.duplicate and await _stale(services, noted):
                continue
            return receipt
    raise AssertionError("unreachable: the last attempt answers or raises")


_ATTEMPTS = 3
"""The first on the cached source; the others read it (each moved guard costs one)."""


async def _stale(services: Services, noted: NotedReads) -> bool:
    """Whether the source this attempt took unread has moved on (it then decides again)."""
    stale_unread = getattr(services.repository, "stale_unread", None)
    return stale_unread is not None and await stale_unread(noted)


async def _ingest_once(
    services: Services,
    *,
    kind: str,
    source: str | None,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    body: bytes,
    now: datetime,
) -> Receipt:
    # 1. The source: enabled, of this kind (404), and its secrets at `now`.
    found = await find_source(services, kind, source)
    # 2. The signature, before anything is parsed or written (401).
    await _verify(services, found, headers=headers, query=query, body=body, now=now)
    # 3. JSON, kept as the exact text received (400).
    payload, body_type = _parse(body)
    # 4. Recorded by a command: one stream per delivery, so a redelivery finds it taken (200).
    received = delivery_id(found.kind, headers, body)
    command = RecordWebhookDelivery(
        source_id=found.id,
        project_id=found.project_id,
        source_kind=found.kind,
        delivery_id=received,
        event=event_kind(found.kind, headers, body_type),
        headers=recorded_headers(found.kind, headers),
        content_type=headers.get("content-type", ""),
        payload=payload,
    )
    context = CommandContext(
        principal=delivery_sender(found.name, found.project_id),
        at=now,
        correlation_id=received,
        # The request's span: the run the intake starts from this delivery joins its trace.
        traceparent=current_traceparent() or valid_traceparent(headers.get("traceparent")),
    )
    try:
        result = await services.bus.dispatch(command, context)
    except GuardMoved:
        raise  # the source moved: not a redelivery
    except VersionConflict:
        # The delivery's stream is its key (no idempotency key: a row of its own and two
        # statements under the append lock, for every delivery): a redelivery finds it taken.
        return await _first_receipt(services, delivery_stream_id(found.id, received), None)
    assert result.position is not None  # a new delivery always records its Received event
    # The stream the command made (`delivery_stream_id`): its UUID is not derived twice.
    return Receipt(delivery=UUID(result.id), position=result.position, outcome="accepted")


async def _verify(
    services: Services,
    source: WebhookSource,
    *,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    body: bytes,
    now: datetime,
) -> None:
    try:
        secrets = await OPENED.open(services.box, source.id, source.accepted_secrets(now))
    except SecretUnsealError:
        log.error("webhook source %s: cannot unseal its secret (wrong cipher key?)", source.id)
        raise problem(503, "secret_unavailable", "the source's secret cannot be read") from None
    try:
        verify(source.kind, secrets=secrets, headers=headers, query=query, body=body, now=now)
    except BadSignature as refused:
        WEBHOOK_REFUSALS.labels(source.kind, refused.reason).inc()
        log.warning(
            "webhook delivery refused: source %s (%s): %s", source.id, source.kind, refused.reason
        )
        raise problem(
            401, "bad_signature", "bad signature", f"delivery refused: {refused.reason}"
        ) from None


def _parse(body: bytes) -> tuple[str, Any]:
    """The body's text and its top-level `type`; 400 unless it is a JSON object in UTF-8."""
    try:
        top = _top_level.decode(body)
        # msgspec skips the strings of unknown fields without checking their UTF-8.
        return body.decode("utf-8"), top.type
    except (msgspec.DecodeError, UnicodeDecodeError) as error:
        raise problem(
            400, "malformed_json", "malformed JSON", f"the body must be a JSON object: {error}"
        ) from None
    except RecursionError:
        # The decoder stops at the interpreter's recursion limit (some 1,000 levels).
        raise problem(
            400, "malformed_json", "malformed JSON", "the body is nested too deeply"
        ) from None


async def _first_receipt(services: Services, stream_id: UUID, position: int | None) -> Receipt:
    if position is None:
        position = (await services.store.read_stream(str(stream_id), to_version=1))[0].position
    later = await services.store.read_stream(str(stream_id), from_version=2)
    processed = next(
        (
            msgspec.convert(e.data, Processed, strict=False)
            for e in later
            if e.type == WebhookDelivery.Processed.event_type
        ),
        None,
    )
    return Receipt(
        delivery=stream_id,
        position=position,
        outcome="accepted",
        duplicate=True,
        processed=processed,
    )
