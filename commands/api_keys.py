"""API key commands: issue (the token is shown once, only its hash is kept), the first start's
admin key, and revoke."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar
from uuid import UUID

import msgspec
from msgspec import Meta

from commands.bus import CommandResult, Dependencies
from commands.context import CommandContext
from commands.outcome import SecretShown, answer, with_secret
from commands.ports import VersionConflict
from domain.api_key import ApiKey
from domain.limits import ITEMS_MAX, Keyword, Name, Reason

FIRST_ADMIN_KEY_ID = UUID("0b0a7c1e-5e11-4f1a-9d3b-ad312a4bc0de")
"""Fixed, so that processes starting together race for one stream: exactly one append wins."""
FIRST_ADMIN_KEY_NAME = "bootstrap admin"


class IssueApiKey(msgspec.Struct, frozen=True, kw_only=True):
    name: Name
    scopes: Annotated[tuple[Keyword, ...], Meta(max_length=ITEMS_MAX)]
    project_id: UUID | None = None
    expires_at: datetime | None = None


class IssueFirstAdminKey(msgspec.Struct, frozen=True, kw_only=True):
    """An admin key for every project, on a store where no API key was ever issued."""


class RevokeApiKey(msgspec.Struct, frozen=True, kw_only=True):
    retry_on_conflict: ClassVar[bool] = True
    key_id: UUID
    reason: Reason = ""


async def issue_api_key(
    command: IssueApiKey, context: CommandContext, deps: Dependencies
) -> SecretShown:
    # Only an admin of that project (or of all) may hand out keys for it.
    context.principal.require("admin", command.project_id)
    return await _issue(command, context.new_id("api-key"), context, deps)


async def issue_first_admin_key(
    command: IssueFirstAdminKey, context: CommandContext, deps: Dependencies
) -> SecretShown:
    context.principal.require("admin", None)
    nothing = SecretShown(id=str(FIRST_ADMIN_KEY_ID), version=0)
    # 1. Any key ever issued (revoked or not) means someone was given the keys: none is due.
    if await deps.repository.any_of(ApiKey):
        return nothing
    first = IssueApiKey(name=FIRST_ADMIN_KEY_NAME, scopes=("admin",))
    try:
        # 2. On its fixed stream: of processes starting together, one append wins.
        return await _issue(first, FIRST_ADMIN_KEY_ID, context, deps)
    except VersionConflict:
        return nothing  # another process issued it a moment ago


async def revoke_api_key(
    command: RevokeApiKey, context: CommandContext, deps: Dependencies
) -> CommandResult:
    key = await deps.repository.get(ApiKey, command.key_id)
    context.principal.require_on("admin", key, key.project_id)
    key.revoke(reason=command.reason, revoked_by=context.principal.name, at=context.at)
    return answer(key, await deps.repository.save(key, metadata=context.metadata()))


async def _issue(
    command: IssueApiKey, key_id: UUID, context: CommandContext, deps: Dependencies
) -> SecretShown:
    new = deps.secrets.new_api_key(key_id)
    key = ApiKey.create(
        id=key_id,
        name=command.name,
        project_id=command.project_id,
        scopes=command.scopes,
        secret_hash=new.secret_hash,
        prefix=new.prefix,
        expires_at=command.expires_at,
        issued_by=context.principal.name,
        at=context.at,
    )
    saved = await deps.repository.save(key, metadata=context.metadata())
    return with_secret(key, saved, new.token)


HANDLERS = {
    IssueApiKey: issue_api_key,
    IssueFirstAdminKey: issue_first_admin_key,
    RevokeApiKey: revoke_api_key,
}
