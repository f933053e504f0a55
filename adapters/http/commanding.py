"""Runs a command for a request: caller context, Idempotency-Key replay, the answer."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import asyncpg
import msgspec
import uuid_utils
from litestar import Request, Response

from adapters.http.own_writes import note_write
from adapters.http.problems import problem
from adapters.store.read_guards import noted_standing
from adapters.telemetry.tracing import valid_traceparent
from commands.bus import CommandResult
from commands.context import CommandContext, Principal
from commands.outcome import SecretShown
from commands.ports import ReadMoved, VersionConflict
from domain.errors import DomainError

MAX_KEY_LENGTH = 255
REPLAY_WAIT_S = 2.0
"""How long a failed keyed request waits for a concurrent twin's stored answer."""

REMEMBER_ANSWER = (
    "INSERT INTO http_idempotency (key, fingerprint, status, body) SELECT $1, $2, $3, $4 "
    "FROM (SELECT set_config('synchronous_commit', 'off', true)) AS asynchronous_commit "
    "ON CONFLICT (key) DO NOTHING"
)
"""One round trip whose commit does not wait for the disk (this statement's transaction only).

The events are durable already, and so is the store's idempotency key on their append. An
answer lost with a database crash (within its WAL writer delay, 200 ms by default) costs a
retried request one more run of the command: its append is then answered from that key, with
the first append's id, version and position. A flush per keyed command (every runner report
carries a key) was a second WAL flush wait per request, after the append's.
"""


class CommandAnswer(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What every command answers: the id it wrote, the stream version, the global position."""

    id: str
    version: int
    position: int | None = None
    secret: str | None = None
    """Only when a secret is shown once (a new API key or webhook secret)."""


def context_for(request: Request[Principal, Any, Any]) -> CommandContext:
    headers = request.headers
    key = _checked(headers, "Idempotency-Key", "invalid_idempotency_key")
    return command_context(request.user, headers, idempotency_key=key)


def command_context(
    principal: Principal, headers: Mapping[str, str], *, idempotency_key: str | None
) -> CommandContext:
    """The context of a command received now, with the tracing headers of its HTTP request."""
    return CommandContext(
        principal=principal,
        at=datetime.now(UTC),
        # uuid_utils draws from a user-space CSPRNG: no getrandom call and no uuid.UUID per request.
        correlation_id=_checked(headers, "X-Correlation-Id") or str(uuid_utils.uuid4()),
        causation_id=_checked(headers, "X-Causation-Id"),
        # An unusable trace context is dropped, as W3C Trace Context says, not refused.
        traceparent=valid_traceparent(headers.get("traceparent")),
        idempotency_key=idempotency_key,
    )


def _checked(headers: Mapping[str, str], name: str, code: str = "invalid_header") -> str | None:
    """A header that ends up in every event's metadata (and an index): short and printable."""
    value = headers.get(name.lower())
    if value is not None and not (1 <= len(value) <= MAX_KEY_LENGTH and value.isprintable()):
        raise problem(
            422,
            code,
            f"{name} must be 1 to {MAX_KEY_LENGTH} printable characters",
            header=name,
        )
    return value


async def execute(
    request: Request[Principal, Any, Any], command: object, *, status: int = 202
) -> Response[bytes]:
    services = request.app.state.services
    context = context_for(request)
    key = context.scoped_key()
    fingerprint = await _fingerprint(request) if key else ""
    found_after = key is not None and getattr(command, "replays_found_after", False)
    if key and not found_after:
        replay = await _replay(services.store.pool, key, fingerprint)
        if replay is not None:
            return replay
    try:
        result = await services.bus.dispatch(command, context)
    except (DomainError, VersionConflict) as error:
        if key and not _credential_moved(error):
            # A concurrent twin may have just done it; its answer is the answer.
            replay = await _replay(services.store.pool, key, fingerprint, wait_s=REPLAY_WAIT_S)
            if replay is not None:
                return replay
        raise
    if found_after and (result.duplicate or result.position is None):
        # Maybe a retry of a request answered already: its first answer is the answer.
        replay = await _replay(services.store.pool, key, fingerprint)  # type: ignore[arg-type]
        if replay is not None:
            return replay
    answer = answer_of(result)
    note_write(request, answer.position)
    body = msgspec.json.encode(answer)
    if key:
        # A secret is shown once and never stored in clear: a replay answers without it.
        kept = msgspec.json.encode(msgspec.structs.replace(answer, secret=None))
        await services.store.pool.execute(
            REMEMBER_ANSWER,
            key,
            fingerprint,
            status,
            kept,
        )
    return Response(body, status_code=status, media_type="application/json")


def _credential_moved(error: Exception) -> bool:
    """The request's key moved (revoked) under its append: the answer's check refuses it."""
    standing = noted_standing()
    stream_id = getattr(error, "stream_id", None)
    if not isinstance(error, ReadMoved) or standing is None or stream_id is None:
        return False
    return stream_id == standing.stream_id


def answer_of(result: CommandResult) -> CommandAnswer:
    return CommandAnswer(
        id=result.id,
        version=result.version,
        position=result.position,
        secret=result.secret if isinstance(result, SecretShown) else None,
    )


async def _fingerprint(request: Request[Any, Any, Any]) -> str:
    digest = hashlib.sha256(f"{request.method} {request.url.path}\n".encode())
    digest.update(await request.body())
    return digest.hexdigest()


async def _replay(
    pool: asyncpg.Pool, key: str, fingerprint: str, *, wait_s: float = 0.0
) -> Response[bytes] | None:
    deadline = asyncio.get_running_loop().time() + wait_s
    while True:
        row = await pool.fetchrow(
            "SELECT fingerprint, status, body FROM http_idempotency WHERE key = $1", key
        )
        if row is not None:
            if row["fingerprint"] != fingerprint:
                raise problem(
                    422,
                    "idempotency_key_reused",
                    "this Idempotency-Key was used for a different request",
                )
            return Response(
                row["body"],
                status_code=row["status"],
                media_type="application/json",
                headers={"Idempotent-Replayed": "true"},
            )
        if asyncio.get_running_loop().time() >= deadline:
            return None
        await asyncio.sleep(0.05)
