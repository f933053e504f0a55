"""Which project secrets (names and versions, never values) a step's attempt received.

Recorded on the run before the runner gets the values, so an auditor can answer "which runs
used version 3 of DEPLOY_KEY" from the run's own history.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

import msgspec

from domain.errors import DomainError, IllegalTransition, InvalidValue
from domain.limits import KEY_MAX
from domain.moments import require_aware
from domain.run_state import RunEvent, RunState
from domain.run_statuses import RunStatus, StepStatus
from domain.secret import valid_environment, valid_secret_name
from domain.value_checks import valid_text


class SecretUse(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    version: int
    environment: str | None = None
    """The environment the value was bound to; None: not bound to one."""
    pipeline_id: UUID | None = None
    """The pipeline the value was bound to; None: not bound to one (both None: project-wide)."""


class _Receiving(RunState, Protocol):
    @property
    def StepSecretsReceived(self) -> RunEvent: ...


class SecretCommands:
    """Mixed into Run: the secrets an attempt received."""

    def require_running_attempt(
        self: RunState, step: str, *, attempt: int, runner: str | None
    ) -> None:
        """Only the runner running this very attempt (and only while it runs) may get secrets."""
        self._require_internal("give secrets to a step of")
        state = self._step(step)
        self._require_run_in((RunStatus.RUNNING, RunStatus.CANCELLING), "give secrets to")
        self._require_step(state, (StepStatus.RUNNING,), "give secrets to", attempt)
        if state.attempt != attempt:
            raise IllegalTransition("step", state.status.value, "give secrets to")
        if state.runner is not None and runner != state.runner:
            raise IllegalTransition("step", "running on another runner", "give secrets to")

    def record_secrets_received(
        self: _Receiving,
        step: str,
        *,
        attempt: int,
        runner: str | None,
        secrets: Sequence[SecretUse],
        at: datetime,
    ) -> None:
        require_aware(at)
        SecretCommands.require_running_attempt(self, step, attempt=attempt, runner=runner)
        if runner is not None:
            runner = valid_text("runner", runner, limit=KEY_MAX)
        for use in secrets:
            valid_secret_name("secrets", use.name)
            valid_environment("secrets", use.environment)
            if use.version < 1:
                raise InvalidValue("secrets", f"{use.name!r}: versions start at 1")
        if not secrets:
            return
        self.trigger_event(
            self.StepSecretsReceived,
            step=step,
            attempt=attempt,
            secrets=tuple(secrets),
            timestamp=at,
        )


class SecretsMissing(DomainError):
    """A step declares secrets its project does not hold (never set, or deleted)."""

    code = "secret_missing"

    def __init__(self, names: Sequence[str]) -> None:
        self.names = tuple(names)
        listed = ", ".join(self.names)
        super().__init__(
            f"the step needs the project secret(s) {listed}, which the project does not hold: "
            "set them (PUT /api/v1/projects/{id}/secrets/{name} or `flowledger secrets set`)"
        )
