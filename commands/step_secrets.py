"""Handing a running attempt the project secrets its step declares, on record.

The run's pinned definition says which names the step may have (the runner cannot ask for
more); only the runner running that very attempt gets them, only while it runs; the event
naming each secret's version is appended before any value leaves, so no value is handed out
that the run's history does not account for.
"""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

import msgspec

from commands.bus import CommandResult, Dependencies
from commands.context import CommandContext
from commands.outcome import written
from commands.ports import SecretReader
from domain.limits import Key, Positive32
from domain.pipeline import Pipeline
from domain.run import Run
from domain.run_secrets import SecretsMissing, SecretUse


class ReceiveStepSecrets(msgspec.Struct, frozen=True, kw_only=True):
    retry_on_conflict: ClassVar[bool] = True
    run_id: UUID
    step: Key
    attempt: Positive32
    runner: Key | None = None


class SecretsGiven(CommandResult, frozen=True, kw_only=True, omit_defaults=True):
    """The values, for the runner's answer only: never kept, never logged."""

    values: dict[str, str] = {}
    used: tuple[SecretUse, ...] = ()

    def __repr__(self) -> str:
        return f"SecretsGiven(id={self.id!r}, used={self.used!r}, values=<redacted>)"


async def receive_step_secrets(
    command: ReceiveStepSecrets, context: CommandContext, deps: Dependencies
) -> CommandResult:
    run = await deps.repository.get(Run, command.run_id)
    context.principal.require_on("runner", run, run.project_id)
    run.require_running_attempt(command.step, attempt=command.attempt, runner=command.runner)
    pipeline = await deps.repository.get(Pipeline, run.pipeline_id)
    source = run.plan[command.step].source  # a matrix instance has its matrix step's secrets
    [spec] = [s for s in pipeline.definition(run.pipeline_version).steps if s.name == source]
    reader = _reader(deps)
    values: dict[str, str] = {}
    used: list[SecretUse] = []
    missing: list[str] = []
    # The narrowest scope wins: the step's environment's value, then its pipeline's, then the
    # project's.
    environment = run.plan[command.step].environment
    for name in spec.secrets:
        revealed = await reader.reveal(
            run.project_id, name, environment=environment, pipeline_id=run.pipeline_id
        )
        if revealed is None:
            missing.append(name)
            continue
        values[name] = revealed.value
        used.append(
            SecretUse(
                name=name,
                version=revealed.version,
                environment=revealed.environment,
                pipeline_id=revealed.pipeline_id,
            )
        )
    if missing:
        raise SecretsMissing(missing)
    run.record_secrets_received(
        command.step, attempt=command.attempt, runner=command.runner, secrets=used, at=context.at
    )
    saved = await deps.repository.save(run, metadata=context.metadata())
    return SecretsGiven(**written(run, saved), values=values, used=tuple(used))


def _reader(deps: Dependencies) -> SecretReader:
    if deps.secret_reader is None:
        raise RuntimeError(
            "handing out secrets needs the secret store (Dependencies.secret_reader)"
        )
    return deps.secret_reader


HANDLERS = {ReceiveStepSecrets: receive_step_secrets}
