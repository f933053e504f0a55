"""The webhook gate: which source a delivery names, whether that source signed it, what it says.

`TakeInWebhookDelivery`'s handler asks it (`commands.ports.WebhookGate`) inside the bus's attempt,
so the source, taken from the process's cache unread, is a read guard of the record's append, and
a refusal (raised here as the caller's answer) stands only once the bus found that source current.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import asyncpg
import msgspec
from litestar.exceptions import HTTPException

from adapters.http.problems import problem
from adapters.platform.secrets import SecretUnsealError
from adapters.secrets.kept import KeptSecrets
from adapters.telemetry.metrics import WEBHOOK_REFUSALS
from adapters.webhooks.delivery import event_kind, recorded_headers
from adapters.webhooks.opened_secrets import OPENED
from adapters.webhooks.sources import find_source
from adapters.webhooks.verify import BadSignature, verify
from commands.ports import AdmittedDelivery, Repository
from commands.webhook_payloads import UnreadablePayload, github
from domain.errors import DomainError
from domain.webhook_source import WebhookSource

log = logging.getLogger("adapters.webhooks.ingest")
"""The ingest's logger, as before the gate was split from it: log filters and alerts name it."""


class DeliveryRefused(DomainError):
    """A delivery refused before anything was written (404, 409, 401, 400): `answer` says why.

    A domain refusal to the bus (its observer counts it `rejected`, not an error)."""

    code = "delivery_refused"

    def __init__(self, answer: HTTPException) -> None:
        self.answer = answer
        super().__init__(answer.detail)


class _Top(msgspec.Struct):
    """Only the top-level `type`: the rest of the body is checked but never built."""

    type: Any = None


_top_level = msgspec.json.Decoder(_Top)


class SourceGate:
    """The process's `WebhookGate`: sources named through its pool (the sources view), secrets
    through its box (opened once per process, `opened_secrets.py`)."""

    def __init__(self, pool: asyncpg.Pool, box: KeptSecrets) -> None:
        self._pool = pool
        self._box = box

    async def admit(
        self,
        kind: str,
        ref: str | None,
        *,
        headers: Mapping[str, str],
        query: Mapping[str, str],
        body: bytes,
        at: datetime,
        repository: Repository,
    ) -> AdmittedDelivery:
        try:
            # 1. The source: enabled, of this kind (404), and its secrets at `at`.
            found = await find_source(repository, self._pool, kind, ref)
            # 2. The signature, before anything is parsed or written (401).
            await self._verify(found, headers=headers, query=query, body=body, now=at)
            # 3. JSON, kept as the exact text received (400).
            content_type = headers.get("content-type", "")
            read = _read_push(body) if read_as_push(found.kind, headers, content_type) else None
            payload, body_type = read or _parse(body)
        except HTTPException as refused:
            if refused.status_code >= 500:
                raise
            raise DeliveryRefused(refused) from None
        return AdmittedDelivery(
            source=found,
            event=event_kind(found.kind, headers, body_type),
            headers=recorded_headers(found.kind, headers),
            content_type=content_type,
            payload=payload,
        )

    async def _verify(
        self,
        source: WebhookSource,
        *,
        headers: Mapping[str, str],
        query: Mapping[str, str],
        body: bytes,
        now: datetime,
    ) -> None:
        try:
            secrets = await OPENED.open(self._box, source.id, source.accepted_secrets(now))
        except SecretUnsealError:
            log.error("webhook source %s: cannot unseal its secret (wrong cipher key?)", source.id)
            raise problem(503, "secret_unavailable", "the source's secret cannot be read") from None
        try:
            verify(source.kind, secrets=secrets, headers=headers, query=query, body=body, now=now)
        except BadSignature as refused:
            WEBHOOK_REFUSALS.labels(source.kind, refused.reason).inc()
            log.warning(
                "webhook delivery refused: source %s (%s): %s",
                source.id,
                source.kind,
                refused.reason,
            )
            raise problem(
                401, "bad_signature", "bad signature", f"delivery refused: {refused.reason}"
            ) from None


def read_as_push(kind: str, headers: Mapping[str, str], content_type: str) -> bool:
    """Whether the store's sealer will read this delivery as a push (`github.read_as_push`)."""
    return github.read_as_push(kind, event_kind(kind, headers, None), content_type)


def _read_push(body: bytes) -> tuple[str, None] | None:
    """The text of a GitHub push, if the sealer's read of it (which it keeps) takes it: then
    it is a JSON object in UTF-8, as `_parse` asks. Else None, and `_parse` decides."""
    try:
        text = body.decode("utf-8")
        github.push_and_email(text)
    except (UnicodeDecodeError, UnreadablePayload, RecursionError):
        return None
    return text, None


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
