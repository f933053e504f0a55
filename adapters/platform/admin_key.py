"""API keys made outside the HTTP API: the first start's admin key, `keys create`, and the key
of `up`'s own runner. Each is a command sent through the bus, as the API's are."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from commands.api_keys import IssueApiKey, IssueFirstAdminKey, RevokeApiKey
from commands.context import CommandContext, Principal
from commands.outcome import SecretShown

if TYPE_CHECKING:
    from adapters.platform.services import Services

BOOTSTRAP_ACTOR = "flowledger bootstrap"
CLI_ACTOR = "flowledger keys create"


def operator(name: str, *, at: datetime) -> CommandContext:
    """The context of a command given on this host, by whoever can reach the database."""
    principal = Principal(id=name, name=name, project_id=None, scopes=frozenset({"admin"}))
    return CommandContext(principal=principal, at=at, correlation_id=str(uuid.uuid4()))


async def ensure_admin_key(services: Services, *, at: datetime) -> str | None:
    """Issue an admin key for every project if no API key was ever issued; its token, or None.

    The token is shown once by the caller and stored nowhere in clear: never log it.
    """
    result = await services.bus.dispatch(IssueFirstAdminKey(), operator(BOOTSTRAP_ACTOR, at=at))
    assert isinstance(result, SecretShown)
    return result.secret


async def create_key(
    services: Services,
    *,
    name: str,
    scopes: Collection[str],
    project_id: UUID | None,
    at: datetime,
    expires_at: datetime | None = None,
    actor: str = CLI_ACTOR,
) -> tuple[UUID, str]:
    """Issue a key (`project_id=None`: every project); `(key id, token to show once)`."""
    command = IssueApiKey(
        name=name, scopes=tuple(scopes), project_id=project_id, expires_at=expires_at
    )
    result = await services.bus.dispatch(command, operator(actor, at=at))
    assert isinstance(result, SecretShown) and result.secret is not None
    return UUID(result.id), result.secret


async def revoke_key(
    services: Services, key_id: UUID, *, reason: str, at: datetime, actor: str = CLI_ACTOR
) -> None:
    await services.bus.dispatch(RevokeApiKey(key_id=key_id, reason=reason), operator(actor, at=at))
