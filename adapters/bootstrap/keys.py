"""What `flowledger keys list|revoke` run: the API keys view, and the revoke command."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from adapters.bootstrap.resources import open_resources
from adapters.platform.admin_key import revoke_key
from adapters.platform.runtime import servers
from adapters.platform.settings import Settings
from domain.api_key import ApiKeyStatus
from projections.api_keys import ApiKeyRow, list_api_keys
from projections.paging import Page
from projections.projection import live_schema

Out = Callable[[str], None]
REVOKE_ACTOR = "flowledger keys revoke"


def list_keys(settings: Settings, *, status: ApiKeyStatus | None, log: Out) -> list[ApiKeyRow]:
    """Every key the view holds (newest first), as the API's admin list reads them."""

    async def read(database_url: str) -> list[ApiKeyRow]:
        conn = await asyncpg.connect(database_url)
        try:
            rows: list[ApiKeyRow] = []
            cursor: str | None = None
            while True:
                page = Page(limit=200, cursor=cursor)
                found = await list_api_keys(
                    conn, live_schema("api_keys"), project_ids=None, status=status, page=page
                )
                rows.extend(found.items)
                if found.next_cursor is None:
                    return rows
                cursor = found.next_cursor
        finally:
            await conn.close()

    with servers(settings, log=log) as urls:
        return asyncio.run(read(urls.database_url))


def revoke(settings: Settings, key_id: UUID, *, reason: str, log: Out) -> None:
    """Revoke one key through the command bus, as `DELETE /api/v1/api-keys/{id}` does."""

    async def send(database_url: str) -> None:
        async with open_resources(settings, "command", database_url) as resources:
            await revoke_key(
                resources.services, key_id, reason=reason, at=datetime.now(UTC), actor=REVOKE_ACTOR
            )

    with servers(settings, log=log) as urls:
        asyncio.run(send(urls.database_url))
