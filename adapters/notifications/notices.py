"""From one event to what it notifies: the trigger, the words, the run (for the rules' filters)
and the projects whose rules hear of it (None: every project)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from adapters.notifications import facts
from adapters.notifications.messages import Notice
from adapters.store.repository import Repository
from domain.errors import AggregateNotFound
from domain.runner import Runner

RUN_ENDS = {"RunFailed": "run_failed", "RunTimedOut": "run_failed", "RunSucceeded": "run_recovered"}
RUNS = (*RUN_ENDS, "ApprovalRequested")
"""The run events that may notify (filtered on the stream)."""


@dataclass(frozen=True)
class Happening:
    notice: Notice
    run: facts.RunFacts | None
    project_id: UUID | None
    """The project whose rules hear of it; None: every project's."""


def _where(run: facts.RunFacts) -> str:
    return f"{run.pipeline} on {run.branch}" if run.branch else run.pipeline


async def happening(
    pool: asyncpg.Pool,
    repository: Repository,
    dashboard: str,
    event_type: str,
    stream_id: str,
    data: dict[str, Any],
) -> Happening | None:
    """What the event notifies, or None (a success that is no recovery, an unknown run)."""
    if event_type in RUN_ENDS or event_type == "ApprovalRequested":
        run = await facts.run_facts(pool, UUID(stream_id))
        if run is None:
            return None
        link = f"{dashboard}/dashboard/runs/{run.id}"
        if event_type == "ApprovalRequested":
            lines = [f"Step *{data.get('step', '?')}* of run {run.id} waits for approval."]
            if data.get("prompt"):
                lines.append(str(data["prompt"]))
            if data.get("approvers"):
                lines.append("Approvers: " + ", ".join(data["approvers"]))
            if data.get("deadline"):
                lines.append(f"Decide before {data['deadline']}.")
            title = f"Approval waiting: {_where(run)}"
            notice = Notice("approval_waiting", title, tuple(lines), link, "Decide in flowledger")
        elif event_type == "RunSucceeded":
            if not await facts.recovered(pool, run):
                return None
            lines = (f"Run {run.id} succeeded after the previous run failed.",)
            notice = Notice(
                "run_recovered", f"Run recovered: {_where(run)}", lines, link, "Open the run"
            )
        else:
            verb = "timed out" if event_type == "RunTimedOut" else "failed"
            lines = [f"Run {run.id} {verb}."]
            if run.failed_step:
                lines.append(f"Step: {run.failed_step}")
            if run.failure_reason:
                lines.append(f"Reason: {run.failure_reason}")
            title = f"Run {verb}: {_where(run)}"
            notice = Notice("run_failed", title, tuple(lines), link, "Open the run")
        return Happening(notice, run, run.project_id)
    if event_type == "RunnerLost":
        try:
            runner = await repository.get(Runner, UUID(stream_id))
        except AggregateNotFound:
            return None
        lines = [f"Runner {runner.name} on {runner.host} stopped answering."]
        if data.get("reason"):
            lines.append(f"Reason: {data['reason']}")
        if data.get("last_seen"):
            lines.append(f"Last seen: {data['last_seen']}")
        if runner.project_id is None:
            lines.append("A shared runner: every project's runner_lost rules hear of it.")
        link = f"{dashboard}/dashboard/operations"
        notice = Notice(
            "runner_lost", f"Runner lost: {runner.name}", tuple(lines), link, "Operations"
        )
        return Happening(notice, None, runner.project_id)
    if event_type == "SystemNoticeSent":
        title = f"System notice ({data.get('level', 'info')}): {data.get('title', '')}"
        lines = (str(data["message"]),) if data.get("message") else ()
        link = f"{dashboard}/dashboard/operations"
        return Happening(Notice("system_notice", title, lines, link, "Operations"), None, None)
    return None
