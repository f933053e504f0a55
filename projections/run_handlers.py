"""How each run event changes the runs read model's rows: the run's, and its steps'."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.run_statuses import RunStatus, StepStatus
from projections.rows import Row, ms_between
from projections.run_batch import RunBatch, fresh_attempt

STEP_EVENTS = frozenset(
    {
        "StepQueued",
        "StepStarted",
        "StepSucceeded",
        "StepFailed",
        "StepTimedOut",
        "StepSkipped",
        "StepCancelled",
        "StepCarriedOver",
        "StepWaitingForRunner",
        "ApprovalRequested",
        "ApprovalDecided",
    }
)
VERSION_ONLY = frozenset({"RunRetried", "StepCheckedOut"})
"""Events the view shows nothing of but its stream version (the audit timeline tells them)."""

Handler = Callable[[RunBatch, Row, dict[str, Any], str], None]


def _finish(status: RunStatus) -> Handler:
    def finish(batch: RunBatch, run: Row, d: dict[str, Any], at: str) -> None:
        run.update(status=status, finished_at=at, duration_ms=ms_between(run["started_at"], at))
        if status is RunStatus.FAILED:
            run.update(failure_reason=d["reason"], failed_step=d["step"])

    return finish


def _end_attempt(status: StepStatus) -> Handler:
    def end(batch: RunBatch, run: Row, d: dict[str, Any], at: str) -> None:
        batch.step(
            run,
            d,
            at,
            status=status,
            exit_code=d.get("exit_code"),
            reason=d.get("reason") or _timed_out_reason(d),
            finished_at=at,
            duration_ms=d["duration_ms"],
            outputs=d["outputs"],
            metrics=d["metrics"],
        )
        # Summed one by one, in event order: the same floats however the batches fall.
        totals = run["metrics"]
        for key, value in d["metrics"].items():
            totals[key] = totals.get(key, 0.0) + value

    return end


def _timed_out_reason(d: dict[str, Any]) -> str | None:
    return f"timed out after {d['timeout_s']}s" if "timeout_s" in d else None


def _close(status: StepStatus) -> Handler:
    def close(batch: RunBatch, run: Row, d: dict[str, Any], at: str) -> None:
        batch.step(run, d, at, status=status, reason=d["reason"], finished_at=at)

    return close


HANDLERS: dict[str, Handler] = {
    "RunRequested": lambda batch, run, d, at: None,
    **dict.fromkeys(VERSION_ONLY, lambda batch, run, d, at: None),
    "RunStarted": lambda batch, run, d, at: run.update(status=RunStatus.RUNNING, started_at=at),
    "RunCancelRequested": lambda batch, run, d, at: run.update(
        status=RunStatus.CANCELLING, cancel_requested_by=d["actor"], cancel_reason=d["reason"]
    ),
    "RunSucceeded": _finish(RunStatus.SUCCEEDED),
    "RunFailed": _finish(RunStatus.FAILED),
    "RunTimedOut": _finish(RunStatus.TIMED_OUT),
    "RunCancelled": _finish(RunStatus.CANCELLED),
    "StepQueued": lambda batch, run, d, at: batch.step(
        run, d, at, **fresh_attempt(StepStatus.QUEUED, d["attempt"], at)
    ),
    "StepStarted": lambda batch, run, d, at: batch.step(
        run, d, at, status=StepStatus.RUNNING, runner=d["runner"], started_at=at, reason=None
    ),
    # Shown as the queued step's reason until a runner starts it.
    "StepWaitingForRunner": lambda batch, run, d, at: batch.step(
        run, d, at, reason=f"waiting_for_runner: no live runner has label {', '.join(d['labels'])}"
    ),
    "StepCarriedOver": lambda batch, run, d, at: batch.step(
        run,
        d,
        at,
        status=StepStatus.SUCCEEDED,
        attempt=d["attempt"],
        reason=f"carried over from run {d['from_run']}",
        finished_at=at,
        outputs=d["outputs"],
    ),
    "StepSucceeded": _end_attempt(StepStatus.SUCCEEDED),
    "StepFailed": _end_attempt(StepStatus.FAILED),
    "StepTimedOut": _end_attempt(StepStatus.TIMED_OUT),
    "StepSkipped": _close(StepStatus.SKIPPED),
    "StepCancelled": _close(StepStatus.CANCELLED),
    "ApprovalRequested": lambda batch, run, d, at: batch.step(
        run, d, at, status=StepStatus.WAITING_FOR_APPROVAL, queued_at=at
    ),
    # Opened, a run step goes back to pending until it is queued; an approval step's own
    # end (succeeded, or failed when rejected) follows in the same command.
    "ApprovalDecided": lambda batch, run, d, at: (
        batch.step(run, d, at, status=StepStatus.PENDING) if d["opens"] else None
    ),
}
