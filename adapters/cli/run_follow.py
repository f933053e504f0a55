"""`flowledger run --follow`: print a run's log as it grows, until the run ends; its exit code.

It polls the logs view by event position (every channel of the run, in order) and the run's
status. Polling needs only the API and its projector: no relay, gateway or WebSocket, and a
restart of the API in between costs a retry, not the follow.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from adapters.cli.run_trigger import RunCommandError, answer_of

POLL_S = 0.25
PAGE = 500
POSITION_HEADER = "x-projection-position"
RETRY_FOR_S = 60.0

EXIT_CODES = {"succeeded": 0, "failed": 1, "cancelled": 3, "timed_out": 4}
"""The exit code of `flowledger run --follow` for each way a run ends (2: usage, 5: API)."""


class LogPrinter:
    """Whole lines, each prefixed with its step, so the lines of parallel steps stay readable."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self._write = write
        self._partial: dict[str | None, str] = {}
        self.truncated: dict[str, Any] | None = None
        """The run's log hit the API's size cap here; later output was dropped."""

    def chunk(self, step: str | None, text: str) -> None:
        text = self._partial.pop(step, "") + text
        *lines, rest = text.split("\n")
        for line in lines:
            self._write(f"{_label(step)}{line}")
        if rest:
            self._partial[step] = rest

    def flush(self) -> None:
        for step, rest in self._partial.items():
            self._write(f"{_label(step)}{rest}")
        self._partial.clear()


def _label(step: str | None) -> str:
    return f"[{step or 'run'}] "


def follow(
    http: httpx.Client,
    run_id: str,
    *,
    since: int,
    write: Callable[[str], None],
    note: Callable[[str], None],
    poll_s: float = POLL_S,
) -> int:
    """Print the run's log until it ends; the exit code of its outcome.

    `since`: the position the run was requested at; the views are read at or after it.
    """
    printer = LogPrinter(write)
    after = 0
    shown: dict[str, str] = {}
    while True:
        status = _get(http, f"/api/v1/pipeline-runs/{run_id}/status", {"min_position": since})
        since = max(since, status.get("position") or 0)
        for step in status.get("steps", []):
            line = f"{step['status']} (attempt {step['attempt']})"
            if shown.get(step["name"]) != line and step["status"] not in ("pending", "queued"):
                shown[step["name"]] = line
                note(f"step {step['name']}: {line}")
        # Once the run has ended, its last chunks are read at (or after) that position.
        after = _print_logs(http, run_id, after, printer, min_position=status.get("position"))
        if status.get("finished"):
            printer.flush()
            if printer.truncated:
                note(f"the run's log was truncated at {printer.truncated['bytes_kept']} bytes")
            outcome = status["status"]
            why = f": {status['failure_reason']}" if status.get("failure_reason") else ""
            note(f"run {run_id} {outcome}{why}")
            return EXIT_CODES.get(outcome, 1)
        time.sleep(poll_s)


def _print_logs(
    http: httpx.Client, run_id: str, after: int, printer: LogPrinter, *, min_position: Any
) -> int:
    while True:
        params: dict[str, Any] = {"after_position": after, "limit": PAGE}
        if min_position:
            params["min_position"] = min_position
        page = _get(http, f"/api/v1/pipeline-runs/{run_id}/logs", params)
        for chunk in page.get("items", []):
            printer.chunk(chunk.get("step"), chunk["text"])
            after = max(after, int(chunk["position"]))
        if page.get("truncation"):
            printer.truncated = page["truncation"]
        if not page.get("more"):
            return after


def _get(http: httpx.Client, path: str, params: dict[str, Any]) -> dict[str, Any]:
    """GET with retries while the API is unreachable or overloaded (it may be restarting)."""
    deadline = time.monotonic() + RETRY_FOR_S
    delay = 0.2
    while True:
        try:
            response = http.get(path, params=params)
        except httpx.TransportError as exc:
            failure: str = str(exc) or type(exc).__name__
        else:
            if response.status_code not in (429, 502, 503, 504):
                found = answer_of(response)
                if POSITION_HEADER in response.headers:
                    found.setdefault("position", int(response.headers[POSITION_HEADER]))
                return found
            failure = f"{response.status_code}"
        if time.monotonic() + delay > deadline:
            raise RunCommandError(f"GET {path}: the API stayed unavailable ({failure})")
        time.sleep(delay)
        delay = min(delay * 2, 2.0)
