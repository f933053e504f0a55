"""A run's history as a human timeline: one line per event (time, version, actor, event, key
fields), with each burst of log chunks folded into one summary line."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from adapters.store import reader
from domain.envelope import EventEnvelope
from domain.registry import OCCURRED_AT

LOG_EVENT = "LogChunkAppended"
PREVIEW = 40
"""Characters of a log burst's first line shown in its summary."""

Describe = Callable[[dict[str, Any]], str]


class NotARun(LookupError):
    """The id names no run: no events, or another kind of stream."""


async def read_run(conn: asyncpg.Connection, run_id: UUID) -> list[EventEnvelope]:
    """The run's stream (its log chunks are events of it), in version order, upcast."""
    events = await reader.read_stream_current(conn, str(run_id))
    if not events:
        raise NotARun(f"no run with id {run_id}: the event store holds no such stream")
    if events[0].stream_type != "run":
        raise NotARun(f"{run_id} is a {events[0].stream_type}, not a run")
    return events


def timeline(events: Iterable[EventEnvelope]) -> Iterator[str]:
    """One line per event, a burst of consecutive log chunks as one line."""
    burst: list[EventEnvelope] = []
    for event in events:
        if event.type == LOG_EVENT:
            burst.append(event)
            continue
        if burst:
            yield _logs(burst)
            burst = []
        yield _line(event, _describe(event))
    if burst:
        yield _logs(burst)


def _line(event: EventEnvelope, text: str, *, version: str | None = None) -> str:
    actor = event.metadata.actor or "-"
    what = f"{event.type:<20} {text}".rstrip()
    return f"{_when(event)}  v{version or event.version:<9} {actor:<16} {what}"


def _when(event: EventEnvelope) -> str:
    raw = event.data.get(OCCURRED_AT)
    at = datetime.fromisoformat(raw) if isinstance(raw, str) else event.recorded_at
    return at.isoformat(sep=" ", timespec="milliseconds").replace("+00:00", "Z")


def _logs(burst: list[EventEnvelope]) -> str:
    first, last = burst[0], burst[-1]
    size = sum(len(e.data.get("text", "").encode()) for e in burst)
    channels = sorted({f"{e.data.get('step') or 'run'}/{e.data.get('stream')}" for e in burst})
    seqs = [e.data.get("seq", 0) for e in burst]
    preview = next((line for line in first.data.get("text", "").splitlines() if line.strip()), "")
    if len(preview) > PREVIEW:
        preview = preview[: PREVIEW - 1] + "…"
    chunks = "1 chunk" if len(burst) == 1 else f"{len(burst)} chunks"
    text = f"{chunks}, {_size(size)} on {', '.join(channels)}, seq {min(seqs)}-{max(seqs)}" + (
        f': "{preview}"' if preview else ""
    )
    span = str(first.version) if first is last else f"{first.version}-{last.version}"
    return _line(first, text, version=span)


def _size(n: int) -> str:
    return f"{n} B" if n < 1024 else f"{n / 1024:.1f} KiB"


def _describe(event: EventEnvelope) -> str:
    describe = _DESCRIBERS.get(event.type, _fields)
    return describe(event.data)


def _requested(d: dict[str, Any]) -> str:
    trigger = d.get("trigger") or {}
    parts = [f"pipeline {d.get('pipeline_id')} v{d.get('pipeline_version')}"]
    parts.append(f"{trigger.get('kind')} trigger")
    for key in ("event", "repo", "ref"):
        if trigger.get(key):
            parts.append(f"{key} {trigger[key]}")
    if trigger.get("sha"):
        parts.append(f"sha {trigger['sha'][:12]}")
    if trigger.get("pull_request"):
        parts.append(f"PR #{trigger['pull_request']}")
    if trigger.get("delivery_id"):
        parts.append(f"delivery {trigger['delivery_id']}")
    if d.get("retry_of"):
        parts.append(f"retry of {d['retry_of']}")
    if d.get("external"):
        ext = d["external"]
        parts.append(f"mirrors {ext.get('provider')} {ext.get('external_id')}")
    steps = d.get("steps") or []
    if steps:
        parts.append(f"steps {', '.join(s.get('name', '?') for s in steps)}")
    return ", ".join(parts)


def _step_end(d: dict[str, Any]) -> str:
    parts = [f"{d.get('step')} attempt {d.get('attempt')}"]
    if d.get("exit_code") is not None:
        parts.append(f"exit {d['exit_code']}")
    if d.get("duration_ms") is not None:
        parts.append(f"{d['duration_ms']} ms")
    if d.get("reason"):
        parts.append(f"reason: {d['reason']}")
    metrics = d.get("metrics") or {}
    if metrics:
        parts.append(", ".join(f"{k}={v:g}" for k, v in sorted(metrics.items())))
    return ", ".join(parts)


def _fields(d: dict[str, Any]) -> str:
    """Any other event: its scalar fields, briefly."""
    shown = []
    for key, value in sorted(d.items()):
        if key == OCCURRED_AT or isinstance(value, dict | list) or value in (None, ""):
            continue
        text = str(value)
        shown.append(f"{key}={text if len(text) <= PREVIEW else text[: PREVIEW - 1] + '…'}")
    return ", ".join(shown)


_DESCRIBERS: dict[str, Describe] = {
    "RunRequested": _requested,
    "RunFailed": lambda d: (
        f"reason: {d.get('reason')}" + (f" (step {d['step']})" if d.get("step") else "")
    ),
    "RunCancelRequested": lambda d: (
        f"by {d.get('actor')}" + (f", reason: {d['reason']}" if d.get("reason") else "")
    ),
    "StepQueued": lambda d: f"{d.get('step')} attempt {d.get('attempt')}",
    "StepStarted": lambda d: (
        f"{d.get('step')} attempt {d.get('attempt')}"
        + (f" on {d['runner']}" if d.get("runner") else "")
    ),
    "StepSucceeded": _step_end,
    "StepFailed": _step_end,
    "StepTimedOut": lambda d: f"{_step_end(d)}, timed out after {d.get('timeout_s')}s",
    "StepSkipped": lambda d: f"{d.get('step')}: {d.get('reason')}",
    "StepCancelled": lambda d: f"{d.get('step')}: {d.get('reason')}",
    "StepCheckedOut": lambda d: (
        f"{d.get('step')} attempt {d.get('attempt')} checked out {d.get('sha')}"
        f" in {d.get('duration_ms')} ms"
    ),
    "StepWaitingForRunner": lambda d: (
        f"{d.get('step')} attempt {d.get('attempt')}: no live runner has labels "
        + ", ".join(d.get("labels") or ())
    ),
    "StepCarriedOver": lambda d: f"{d.get('step')} carried over from run {d.get('from_run')}",
    "RunRetried": lambda d: (
        f"retried as run {d.get('retry')} by {d.get('actor')}"
        + (" (failed steps only)" if d.get("failed_only") else "")
    ),
    "LogTruncated": lambda d: (
        f"{d.get('step') or 'run'} log cut at chunk {d.get('seq')}, {_size(d.get('bytes_kept', 0))}"
        " kept"
    ),
}
