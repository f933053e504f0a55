"""API key commands: issue (the token is shown once, only its hash is kept) and revoke."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

import msgspec

from commands.bus import CommandResult, Dependencies
from commands.context import CommandContext
from commands.outcome import SecretShown, answer, with_secret
from domain.api_key import ApiKey


class IssueApiKey(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    scopes: tuple[str, ...]
    project_id: UUID | None = None
    expires_at: datetime | None = None


class RevokeApiKey(msgspec.Struct, frozen=True, kw_only=True):
    retry_on_conflict: ClassVar[bool] = True
    key_id: UUID
    reason: str = ""


async def issue_api_key(
    command: IssueApiKey, context: CommandContext, deps: Dependencies
) -> SecretShown:
    # Only an admin of that project (or of all) may hand out keys for it.
    context.principal.require("admin", command.project_id)
    key_id = context.new_id("api-key")
    token, secret_hash = deps.secrets.new_api_key(key_id)
    key = ApiKey.create(
        id=key_id,
        name=command.name,
        project_id=command.project_id,
        scopes=command.scopes,
        secret_hash=secret_hash,
        prefix=_public_part(token),
        expires_at=command.expires_at,
        issued_by=context.principal.name,
        at=context.at,
    )
    return with_secret(key, await deps.repository.save(key, metadata=context.metadata()), token)


async def revoke_api_key(
    command: RevokeApiKey, context: CommandContext, deps: Dependencies
) -> CommandResult:
    key = await deps.repository.get(ApiKey, command.key_id)
    context.principal.require("admin", key.project_id)
    key.revoke(reason=command.reason, revoked_by=context.principal.name, at=context.at)
    return answer(key, await deps.repository.save(key, metadata=context.metadata()))


def _public_part(token: str) -> str:
    """`flk_<key id>`: enough to recognise a key in a listing, nothing of its secret."""
    return "_".join(token.split("_", 2)[:2])


HANDLERS = {IssueApiKey: issue_api_key, RevokeApiKey: revoke_api_key}
