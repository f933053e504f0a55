"""Domain errors: each broken rule has its own class and a stable machine `code`."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A command was refused by the domain; nothing was decided, so nothing is written."""

    code = "domain_error"


class IllegalTransition(DomainError):
    """The aggregate's current state does not allow the attempted transition."""

    code = "illegal_transition"

    def __init__(self, aggregate: str, current_state: str, attempted: str) -> None:
        self.aggregate = aggregate
        self.current_state = current_state
        self.attempted = attempted
        super().__init__(f"cannot {attempted} a {aggregate} that is {current_state}")


class InvalidValue(DomainError):
    """A command argument breaks a rule of the domain (which field, and why)."""

    code = "invalid_value"

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class AggregateNotFound(DomainError):
    """No stream of the requested kind exists for that id (at that version)."""

    code = "not_found"

    def __init__(self, aggregate: str, id: Any, version: int | None = None) -> None:
        self.aggregate = aggregate
        self.id = id
        self.version = version
        at = "" if version is None else f" at version {version}"
        super().__init__(f"{aggregate} {id} not found{at}")


class UnknownPipelineVersion(DomainError):
    """A pipeline was asked for a version of its definition that it never had."""

    code = "unknown_pipeline_version"

    def __init__(self, pipeline_id: Any, version: int) -> None:
        self.pipeline_id = pipeline_id
        self.version = version
        super().__init__(f"pipeline {pipeline_id} has no version {version}")


class UnknownStep(InvalidValue):
    """A run was told about a step its plan does not have."""

    code = "unknown_step"

    def __init__(self, step: str) -> None:
        self.step = step
        super().__init__("step", f"the run has no step {step!r}")


class StepNotReady(DomainError):
    """A step was to be queued or started before every step it needs let it go ahead."""

    code = "step_not_ready"

    def __init__(self, step: str, waiting_on: tuple[str, ...]) -> None:
        self.step = step
        self.waiting_on = waiting_on
        super().__init__(f"step {step} still waits on {', '.join(waiting_on)}")


class AttemptMismatch(DomainError):
    """A report about a step's attempt that is not its current one (a stale or early runner)."""

    code = "attempt_mismatch"

    def __init__(self, step: str, current: int, got: int) -> None:
        self.step = step
        self.current = current
        self.got = got
        super().__init__(f"step {step} is at attempt {current}, not {got}")


class RunKindMismatch(DomainError):
    """A command for internal runs sent to an external one, or the other way round."""

    code = "run_kind_mismatch"

    def __init__(self, run_kind: str, attempted: str) -> None:
        self.run_kind = run_kind
        self.attempted = attempted
        super().__init__(f"cannot {attempted} on an {run_kind} run")


class LogSequenceGap(DomainError):
    """A log chunk skipped sequence numbers: an earlier chunk of its channel was never appended."""

    code = "log_sequence_gap"

    def __init__(self, step: str | None, expected: int, got: int) -> None:
        self.step = step
        self.expected = expected
        self.got = got
        channel = "the run's own log" if step is None else f"step {step}'s log"
        super().__init__(f"{channel} expects chunk {expected}, got {got}")


class AttemptAlreadyStarted(IllegalTransition):
    """A second runner reported starting an attempt another runner already runs."""

    code = "attempt_already_started"

    def __init__(self, step: str, attempt: int, runner: str | None) -> None:
        super().__init__("step", "running", "start")
        self.step = step
        self.attempt = attempt
        self.runner = runner
        by = f" by {runner}" if runner else ""
        self.args = (f"attempt {attempt} of step {step} is already running{by}",)


class RunnerNotActive(DomainError):
    """A lost or deregistered runner spoke as if nothing happened: it must register again."""

    code = "runner_not_active"

    def __init__(self, runner_id: str, status: str) -> None:
        self.runner_id = runner_id
        self.status = status
        super().__init__(f"runner {runner_id} is {status}: register again")
