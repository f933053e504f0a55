"""Project secrets: set (a first value or a new version) and delete.

The value goes to the secret store (`SecretValues`), never into an event: it is staged
encrypted, the event recording its version and fingerprint is appended, and only then is the
value committed (revealable). A failed append discards the staged value. Deleting records the
deletion first, then destroys the values: a retried delete finishes a destruction that failed.
"""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

import msgspec

from commands.bus import CommandResult, Dependencies
from commands.context import CommandContext
from commands.outcome import written
from commands.ports import SecretValues
from domain.errors import AggregateNotFound
from domain.limits import EnvironmentName, SecretName, SecretValue
from domain.pipeline import Pipeline
from domain.project import Project
from domain.secret import Secret, secret_stream_id, valid_scope


class SetSecret(msgspec.Struct, frozen=True, kw_only=True):
    retry_on_conflict: ClassVar[bool] = True
    project_id: UUID
    name: SecretName
    value: SecretValue
    environment: EnvironmentName | None = None
    pipeline_id: UUID | None = None
    """Bind the value to one pipeline of the project (not together with `environment`)."""

    def __repr__(self) -> str:
        # A command may be logged or traced: its value must not be.
        return f"SetSecret(project_id={self.project_id}, name={self.name!r}, value=<redacted>)"


class DeleteSecret(msgspec.Struct, frozen=True, kw_only=True):
    retry_on_conflict: ClassVar[bool] = True
    project_id: UUID
    name: SecretName
    environment: EnvironmentName | None = None
    pipeline_id: UUID | None = None


class SecretWritten(CommandResult, frozen=True, kw_only=True, omit_defaults=True):
    """The answer of a secret's command: which version of the value now stands."""

    secret_version: int


async def set_secret(
    command: SetSecret, context: CommandContext, deps: Dependencies
) -> CommandResult:
    await _require_scope(command, context, deps)
    values = _values(deps)
    secret_id = _secret_id(command)
    fingerprint = values.fingerprint(secret_id, command.value)
    by = context.principal.name
    try:
        secret = await deps.repository.get(Secret, secret_id)
    except AggregateNotFound:
        secret = Secret.create(
            project_id=command.project_id,
            name=command.name,
            environment=command.environment,
            fingerprint=fingerprint,
            by=by,
            at=context.at,
            pipeline_id=command.pipeline_id,
        )
    else:
        if not secret.set(fingerprint=fingerprint, by=by, at=context.at):
            return SecretWritten(**written(secret, None), secret_version=secret.secret_version)
    version = secret.secret_version
    token = await values.stage(secret_id, command.project_id, version, command.value)
    try:
        saved = await deps.repository.save(secret, metadata=context.metadata())
    except BaseException:
        await values.discard(token)
        raise
    if saved is not None and saved.duplicate:
        # An idempotent replay: the first request's value stands, this copy is not kept.
        await values.discard(token)
    else:
        await values.commit(secret_id, token, version)
    return SecretWritten(**written(secret, saved), secret_version=version)


async def delete_secret(
    command: DeleteSecret, context: CommandContext, deps: Dependencies
) -> CommandResult:
    await _require_scope(command, context, deps)
    values = _values(deps)
    secret_id = _secret_id(command)
    secret = await deps.repository.get(Secret, secret_id)
    if secret.deleted:
        # Already on record: make sure its values are gone (a retry after a failed shred).
        await values.shred(secret_id, secret.secret_version)
        raise AggregateNotFound("secret", command.name)
    secret.delete(by=context.principal.name, at=context.at)
    saved = await deps.repository.save(secret, metadata=context.metadata())
    await values.shred(secret_id, secret.secret_version)
    return SecretWritten(**written(secret, saved), secret_version=secret.secret_version)


def _secret_id(command: SetSecret | DeleteSecret) -> UUID:
    return secret_stream_id(
        command.project_id, command.name, command.environment, command.pipeline_id
    )


async def _require_scope(
    command: SetSecret | DeleteSecret, context: CommandContext, deps: Dependencies
) -> None:
    """The project, writable by the caller, and the pipeline (if any) one of its own."""
    project = await deps.repository.get(Project, command.project_id)
    context.principal.require_on("write", project, project.id)
    valid_scope(command.environment, command.pipeline_id)
    if command.pipeline_id is not None:
        try:
            pipeline = await deps.repository.get(Pipeline, command.pipeline_id)
        except AggregateNotFound:
            raise AggregateNotFound("pipeline", str(command.pipeline_id)) from None
        if pipeline.project_id != project.id:
            # Another project's pipeline is, to this project, no pipeline at all.
            raise AggregateNotFound("pipeline", str(command.pipeline_id))


def _values(deps: Dependencies) -> SecretValues:
    if deps.secret_values is None:
        raise RuntimeError("project secrets need the secret store (Dependencies.secret_values)")
    return deps.secret_values


HANDLERS = {SetSecret: set_secret, DeleteSecret: delete_secret}
