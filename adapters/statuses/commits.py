"""Which runs report to a commit, and where: a run a GitHub or GitLab webhook started."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import asyncpg
import msgspec

from adapters.statuses import hosts
from adapters.statuses.steps import pinned_definition
from adapters.store import audit_reader
from adapters.store.store import EventStore


@dataclass(frozen=True)
class Commit:
    """What a run's reports need: where its commit is, and how to name the status."""

    run_id: UUID
    project_id: UUID
    host: str
    repo: str
    sha: str
    ref: str | None
    context: str
    step_statuses: bool = False
    """The pinned definition's `step_statuses`: each step is reported too."""
    step: str | None = None
    """Set on a step's own report."""


async def find_commit(pool: asyncpg.Pool, store: EventStore, run_id: UUID) -> Commit | None:
    """The commit of a run a GitHub or GitLab webhook started; None for any other run."""
    first = (await store.read_stream(str(run_id), to_version=1) or [None])[0]
    if first is None or first.type != "RunRequested":
        return None
    trigger = first.data.get("trigger") or {}
    cause = first.metadata.causation_id
    if trigger.get("kind") != "webhook" or not trigger.get("repo") or not trigger.get("sha"):
        return None
    if cause is None:
        return None
    async with pool.acquire() as conn:
        delivery = await audit_reader.by_id(conn, UUID(cause))
    host = msgspec.json.decode(delivery["data"]).get("source_kind") if delivery else None
    if host not in hosts.TOKEN_SECRETS:
        return None
    pipeline = await store.read_stream(first.data["pipeline_id"])
    created = pipeline[0].data if pipeline else {}
    name = (created.get("definition") or {}).get("name") or "pipeline"
    pinned = pinned_definition(pipeline, first.data.get("pipeline_version", 1))
    return Commit(
        run_id=run_id,
        project_id=UUID(first.data["project_id"]),
        host=host,
        repo=trigger["repo"],
        sha=trigger["sha"],
        ref=trigger.get("ref"),
        context=f"flowledger/{name}",
        step_statuses=bool(pinned.get("step_statuses")),
    )
