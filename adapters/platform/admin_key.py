"""API keys made outside the HTTP API: the first start's admin key, and `keys create`."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID, uuid4

from adapters.platform.secrets import api_key_prefix, new_api_key
from adapters.store import reader
from commands.ports import VersionConflict
from domain.api_key import ApiKey
from domain.envelope import EventMetadata

if TYPE_CHECKING:
    from adapters.platform.services import Services

# Fixed, so that processes starting together race for one stream: exactly one append wins.
BOOTSTRAP_KEY_ID = UUID("0b0a7c1e-5e11-4f1a-9d3b-ad312a4bc0de")
BOOTSTRAP_NAME = "bootstrap admin"
BOOTSTRAP_ACTOR = "flowledger bootstrap"
CLI_ACTOR = "flowledger keys create"


async def ensure_admin_key(services: Services, *, at: datetime) -> str | None:
    """Issue an admin key for every project if no API key was ever issued; its token, or None.

    The token is shown once by the caller and stored nowhere in clear: never log it.
    """
    if await reader.any_stream_of_type(services.store.pool, ApiKey.stream_type):
        return None
    try:
        _, token = await _issue(
            services,
            key_id=BOOTSTRAP_KEY_ID,
            name=BOOTSTRAP_NAME,
            scopes=("admin",),
            project_id=None,
            at=at,
            expires_at=None,
            actor=BOOTSTRAP_ACTOR,
        )
    except VersionConflict:
        return None  # another process issued it a moment ago
    return token


async def create_key(
    services: Services,
    *,
    name: str,
    scopes: Collection[str],
    project_id: UUID | None,
    at: datetime,
    expires_at: datetime | None = None,
) -> tuple[UUID, str]:
    """Issue a key (`project_id=None`: every project); `(key id, token to show once)`."""
    return await _issue(
        services,
        key_id=uuid4(),
        name=name,
        scopes=scopes,
        project_id=project_id,
        at=at,
        expires_at=expires_at,
        actor=CLI_ACTOR,
    )


async def _issue(
    services: Services,
    *,
    key_id: UUID,
    name: str,
    scopes: Collection[str],
    project_id: UUID | None,
    at: datetime,
    expires_at: datetime | None,
    actor: str,
) -> tuple[UUID, str]:
    token, secret_hash = new_api_key(key_id)
    key = ApiKey.create(
        id=key_id,
        name=name,
        project_id=project_id,
        scopes=scopes,
        secret_hash=secret_hash,
        prefix=api_key_prefix(key_id),
        expires_at=expires_at,
        issued_by=actor,
        at=at,
    )
    await services.repository.save(key, metadata=EventMetadata(actor=actor))
    return key_id, token
