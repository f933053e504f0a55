"""API keys as credentials: a token's principal, and a request that stands on its key.

A key is revoked by an event on its stream (`ApiKey.Revoked`, its only event after `Issued`),
and a revocation committed before a request is answered must refuse it. Reading the key's stream
tail before every request did that only up to the handler's start, at a round trip per request.
Instead a request stands on the key (`read_guards.standing_read`): the kept copy is taken unread,
every append made for the request carries its version as a guard (so no write of a revoked key
commits after the revocation), and an answer that no such append confirmed (a read, a refusal, a
remembered Idempotency-Key answer, a secret's value) reads the key's tail before its first byte
is sent (`check_standing`), and is refused if the key moved and no longer authenticates.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from litestar import Request
from litestar.datastructures import Headers
from litestar.exceptions import NotAuthorizedException

from adapters.http.problems import problem_of
from adapters.platform.secrets import parse_api_key, verify_api_key_secret
from adapters.store.read_guards import StandingRead
from commands.context import Principal
from domain.api_key import ApiKey, ApiKeyStatus
from domain.errors import AggregateNotFound

if TYPE_CHECKING:
    from litestar.types import Message, Receive, Scope, Send

API_KEY_HEADER = "X-API-Key"
CHALLENGE = f'Bearer realm="flowledger", ApiKey realm="flowledger" header="{API_KEY_HEADER}"'

# Stable `code`s of the 401 problem details.
MISSING = "credentials_missing"
INVALID = "credentials_invalid"
EXPIRED = "credentials_expired"
REVOKED = "credentials_revoked"


def refuse(code: str, detail: str) -> NotAuthorizedException:
    return NotAuthorizedException(
        detail=detail, headers={"WWW-Authenticate": CHALLENGE}, extra={"code": code}
    )


async def api_key_principal(repository: Any, token: str) -> Principal:
    """The Principal of an API key token, read afresh from the repository, or 401."""
    key_id, secret = _parsed(token)
    return _principal(await _read(repository, key_id), secret)


async def standing_key_principal(repository: Any, token: str, standing: StandingRead) -> Principal:
    """The Principal of an API key token, the key taken unread when kept (else read), and
    `standing` standing on the version taken. A repository that cannot tell whether a stream
    moved (`moved_since`) is read as before, and nothing stands."""
    key_id, secret = _parsed(token)
    if not hasattr(repository, "moved_since"):
        return _principal(await _read(repository, key_id), secret)
    key = repository.kept_to_read(ApiKey, key_id)
    if key is None:
        key = await _read(repository, key_id)
    version = key.version  # read before any await: a kept entry is shared
    principal = _principal(key, secret)
    standing.stand_on(str(key_id), version)
    return principal


async def check_standing(
    repository: Any, token: str, standing: StandingRead, principal: Principal
) -> None:
    """Before an answer goes: unless an append confirmed it, the key must not have moved since
    the request stood on it, or must still authenticate as `principal`; else 401."""
    if standing.stream_id is None or standing.confirmed:
        return
    if not await repository.moved_since(standing.stream_id, standing.version):
        return
    if await api_key_principal(repository, token) != principal:
        # Not reachable while revocation is a key's only change: never answer on a stale one.
        raise refuse(INVALID, "the API key changed while the request was answered; send it again")


def checked_before(scope: Scope, receive: Receive, send: Send, standing: StandingRead) -> Send:
    """`send`, but the answer's head first waits for `check_standing`. A refusal there is sent
    in its place (the answer's own messages are dropped): raised, it would meet litestar's
    exception handlers after the answer counted as started."""
    checked = refused = False

    async def checked_send(message: Message) -> None:
        nonlocal checked, refused
        if refused:
            return
        if not checked and message["type"] == "http.response.start":
            checked = True
            if standing.stream_id is not None and not standing.confirmed:
                repository = scope["app"].state.services.repository
                token = Headers.from_scope(scope).get(API_KEY_HEADER, "")
                try:
                    await check_standing(repository, token, standing, scope["user"])
                except NotAuthorizedException as refusal:
                    refused = True
                    request: Request[Any, Any, Any] = Request(scope, receive)
                    answer = problem_of(refusal).to_response(request)
                    await answer.to_asgi_response(app=None, request=request)(scope, receive, send)
                    return
        await send(message)

    return checked_send


async def _read(repository: Any, key_id: UUID) -> ApiKey:
    try:
        # A caching repository reads only the stream's tail past the key it keeps (the
        # revocation is in that tail).
        load = getattr(repository, "get_to_read", repository.get)
        key: ApiKey = await load(ApiKey, key_id)
    except AggregateNotFound:
        raise refuse(INVALID, "unknown API key") from None
    return key


def _parsed(token: str) -> tuple[UUID, str]:
    parsed = parse_api_key(token.strip())
    if parsed is None:
        raise refuse(INVALID, "malformed API key")
    return parsed


def _principal(key: ApiKey, secret: str) -> Principal:
    if not verify_api_key_secret(secret, key.secret_hash):
        raise refuse(INVALID, "unknown API key")
    # Checked only after the secret: revoked or expired is news for the key's holder only.
    if key.status is ApiKeyStatus.REVOKED:
        raise refuse(REVOKED, "this API key was revoked")
    if not key.is_usable(datetime.now(UTC)):
        raise refuse(EXPIRED, "this API key has expired")
    return Principal(
        id=f"key:{key.id}",
        name=key.name,
        project_id=key.project_id,
        scopes=frozenset(key.scopes),
    )
