"""The words on a drawn step: its state (status, exit, attempt, duration) or its limits."""

from __future__ import annotations

from adapters.visualization.graph import StepNode
from domain.run_statuses import StepStatus

NO_STATE = "none"
"""The state key of a step a run has no record of (an external run mirrors no steps)."""
DEFINED = "defined"
"""The state key of every step when no run is shown."""


def state_key(node: StepNode, with_run: bool) -> str:
    """What colours the step: its status; `none` in a run that has no record of it; `defined`."""
    if not with_run:
        return DEFINED
    return NO_STATE if node.status is None else str(node.status)


def duration(ms: int | None) -> str:
    """`850 ms`, `12.3 s`, `4m 05s`, `2h 07m`; empty for None."""
    if ms is None:
        return ""
    if ms < 1000:
        return f"{ms} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    seconds = ms // 1000
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


def span(seconds: int) -> str:
    """A timeout, compactly: `45s`, `30m`, `1h`, `1h 30m`."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [
        f"{hours}h" if hours else "",
        f"{minutes}m" if minutes else "",
        f"{secs}s" if secs else "",
    ]
    return " ".join(p for p in parts if p) or "0s"


def state_line(node: StepNode, with_run: bool) -> str:
    """`failed (exit 2) · attempt 2/3 · 1.2 s`; without a run, the step's limits."""
    if not with_run:
        retries = f"{node.retries} retr{'y' if node.retries == 1 else 'ies'}"
        parts = [f"timeout {span(node.timeout_s)}", retries if node.retries else ""]
        parts.append("may fail" if node.allow_failure else "")
        return " · ".join(p for p in parts if p)
    if node.status is None:
        return "no record in this run"
    status = str(node.status).replace("_", " ")
    if node.exit_code is not None and node.status == StepStatus.FAILED:
        status += f" (exit {node.exit_code})"
    attempt = ""
    if node.attempt and node.max_attempts and node.max_attempts > 1 and node.attempt > 1:
        attempt = f"attempt {node.attempt}/{node.max_attempts}"
    return " · ".join(p for p in (status, attempt, duration(node.duration_ms)) if p)
