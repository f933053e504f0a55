"""Webhook source commands; a secret is sealed before it goes into an event."""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar, Literal
from uuid import UUID

import msgspec

from commands.bus import CommandResult, Dependencies
from commands.context import CommandContext, Principal
from commands.outcome import SecretShown, answer, with_secret
from domain.errors import IllegalTransition, InvalidValue
from domain.limits import SECRET_MAX, GraceS, Name, Reason, Secret
from domain.project import Project, ProjectStatus
from domain.webhook_source import WebhookSource

SECRET_MIN = 16


class RegisterWebhookSource(msgspec.Struct, frozen=True, kw_only=True):
    project_id: UUID
    kind: Literal["github", "gitlab", "jenkins", "generic"]
    name: Name
    secret: Secret | None = None
    """None: generate one, shown once in the answer."""


class RotateWebhookSecret(msgspec.Struct, frozen=True, kw_only=True):
    source_id: UUID
    secret: Secret | None = None
    grace_s: GraceS = 86_400


class DisableWebhookSource(msgspec.Struct, frozen=True, kw_only=True):
    retry_on_conflict: ClassVar[bool] = True
    source_id: UUID
    reason: Reason = ""


class EnableWebhookSource(msgspec.Struct, frozen=True, kw_only=True):
    retry_on_conflict: ClassVar[bool] = True
    source_id: UUID


class RetireWebhookSecret(msgspec.Struct, frozen=True, kw_only=True):
    """The secret a rotation replaced, its grace period over: deleted, and recorded why."""

    retry_on_conflict: ClassVar[bool] = True
    source_id: UUID


SECRET_SWEEPER = Principal(
    id="system:webhook-secret-sweeper",
    name="webhook-secret-sweeper",
    project_id=None,
    scopes=frozenset({"admin"}),
)
"""Who the sweeper's retirements act as (adapters/webhooks/secret_expiry.py)."""


def _secret(given: str | None, deps: Dependencies) -> tuple[str, bool]:
    if given is None:
        return deps.secrets.new_webhook_secret(), True
    if not SECRET_MIN <= len(given) <= SECRET_MAX:
        raise InvalidValue("secret", f"{SECRET_MIN} to {SECRET_MAX} characters")
    return given, False


async def register_webhook_source(
    command: RegisterWebhookSource, context: CommandContext, deps: Dependencies
) -> SecretShown:
    context.principal.require("admin", command.project_id)
    project = await deps.repository.get(Project, command.project_id)
    if project.status is not ProjectStatus.ACTIVE:
        raise IllegalTransition("project", project.status.value, "register a webhook source in")
    secret, generated = _secret(command.secret, deps)
    source = WebhookSource.create(
        id=context.new_id("webhook-source"),
        project_id=command.project_id,
        kind=command.kind,
        name=command.name,
        sealed_secret=await deps.sealer.seal(secret),
        at=context.at,
    )
    appended = await deps.repository.save(source, metadata=context.metadata())
    return with_secret(source, appended, secret if generated else None)


async def rotate_webhook_secret(
    command: RotateWebhookSecret, context: CommandContext, deps: Dependencies
) -> SecretShown:
    source = await deps.repository.get(WebhookSource, command.source_id)
    context.principal.require_on("admin", source, source.project_id)
    secret, generated = _secret(command.secret, deps)
    retired = source.rotate_secret(
        await deps.sealer.seal(secret), grace=timedelta(seconds=command.grace_s), at=context.at
    )
    appended = await deps.repository.save(source, metadata=context.metadata())
    if retired is not None:
        # After the event: until it is saved, the older secret may still be accepted.
        await deps.sealer.forget(retired)
    return with_secret(source, appended, secret if generated else None)


async def disable_webhook_source(
    command: DisableWebhookSource, context: CommandContext, deps: Dependencies
) -> CommandResult:
    source = await deps.repository.get(WebhookSource, command.source_id)
    context.principal.require_on("admin", source, source.project_id)
    source.disable(reason=command.reason, at=context.at)
    return answer(source, await deps.repository.save(source, metadata=context.metadata()))


async def enable_webhook_source(
    command: EnableWebhookSource, context: CommandContext, deps: Dependencies
) -> CommandResult:
    source = await deps.repository.get(WebhookSource, command.source_id)
    context.principal.require_on("admin", source, source.project_id)
    source.enable(at=context.at)
    return answer(source, await deps.repository.save(source, metadata=context.metadata()))


async def retire_webhook_secret(
    command: RetireWebhookSecret, context: CommandContext, deps: Dependencies
) -> CommandResult:
    source = await deps.repository.get(WebhookSource, command.source_id)
    context.principal.require_on("admin", source, source.project_id)
    sealed = source.retire_previous_secret(at=context.at)
    # Before the event: past its grace nothing accepts the secret any more, and a save that
    # fails is retried by the next sweep (forgetting twice is harmless).
    await deps.sealer.forget(sealed)
    return answer(source, await deps.repository.save(source, metadata=context.metadata()))


HANDLERS = {
    RegisterWebhookSource: register_webhook_source,
    RotateWebhookSecret: rotate_webhook_secret,
    DisableWebhookSource: disable_webhook_source,
    EnableWebhookSource: enable_webhook_source,
    RetireWebhookSecret: retire_webhook_secret,
}
