"""API keys: issued with scopes and a project, shown once, revocable."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec
from litestar import Controller, Response, delete, post
from litestar.params import FromPath, JSONBody
from msgspec import Meta

from adapters.http.answers import answers
from adapters.http.commanding import execute
from adapters.http.security import Req
from commands.api_keys import IssueApiKey, RevokeApiKey
from domain.limits import ITEMS_MAX, Keyword, Name


class ApiKeyCreate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Name
    scopes: Annotated[tuple[Keyword, ...], Meta(max_length=ITEMS_MAX)]
    project_id: UUID | None = None
    """Omit for a key that acts on every project."""
    expires_at: datetime | None = None


class ApiKeysController(Controller):
    path = "/api/v1/api-keys"
    tags = ["api keys"]

    @post(
        "/",
        operation_id="issueApiKey",
        status_code=201,
        responses=answers(201),
        description="The answer's `secret` is the key itself, shown this once.",
    )
    async def issue(self, request: Req, data: JSONBody[ApiKeyCreate]) -> Response[bytes]:
        command = IssueApiKey(
            name=data.name,
            scopes=data.scopes,
            project_id=data.project_id,
            expires_at=data.expires_at,
        )
        return await execute(request, command, status=201)

    @delete("/{key_id:uuid}", operation_id="revokeApiKey", status_code=202, responses=answers(202))
    async def revoke(self, request: Req, key_id: FromPath[UUID]) -> Response[bytes]:
        return await execute(request, RevokeApiKey(key_id=key_id))
