"""Artifact and cache commands: a runner records what it stored; the sweeper what it removed."""

from __future__ import annotations

from typing import ClassVar, Literal
from uuid import UUID

import msgspec

from commands.bus import CommandResult, Dependencies
from commands.context import CommandContext, Principal
from commands.outcome import answer
from domain.limits import (
    ByteCount,
    Key,
    MaybeObjectKey,
    MaybeSha256Hex,
    ObjectKey,
    Positive32,
    Reason,
    RetentionDays,
    Sha256Hex,
)
from domain.run import Run

SWEEPER = Principal(
    id="system:artifact-sweeper",
    name="artifact-sweeper",
    project_id=None,
    scopes=frozenset({"runner", "write"}),
)
"""Who the sweeper's deletions and evictions act as."""


class RecordArtifact(msgspec.Struct, frozen=True, kw_only=True):
    retry_on_conflict: ClassVar[bool] = True
    run_id: UUID
    step: Key
    attempt: Positive32
    kind: Literal["artifact", "workspace"] = "artifact"
    format: Literal["file", "tar"]
    path: MaybeObjectKey = ""
    size: ByteCount
    sha256: Sha256Hex
    object_key: ObjectKey
    retention_days: RetentionDays


class RecordCache(msgspec.Struct, frozen=True, kw_only=True):
    """`restored` with `hit` (and `exact`), or `saved` with size and sha256."""

    retry_on_conflict: ClassVar[bool] = True
    run_id: UUID
    step: Key
    attempt: Positive32
    outcome: Literal["restored", "saved"]
    key: ObjectKey
    branch: MaybeObjectKey = ""
    hit: bool = False
    exact: bool = False
    object_key: MaybeObjectKey = ""
    size: ByteCount = 0
    sha256: MaybeSha256Hex = ""
    matched_key: MaybeObjectKey = ""
    restore_key: MaybeObjectKey = ""


class DeleteArtifact(msgspec.Struct, frozen=True, kw_only=True):
    retry_on_conflict: ClassVar[bool] = True
    run_id: UUID
    name: Key
    kind: Literal["artifact", "workspace"]
    reason: Reason


class EvictCache(msgspec.Struct, frozen=True, kw_only=True):
    retry_on_conflict: ClassVar[bool] = True
    run_id: UUID
    key: ObjectKey
    branch: MaybeObjectKey
    object_key: ObjectKey
    size: ByteCount
    reason: Reason


async def record_artifact(
    command: RecordArtifact, context: CommandContext, deps: Dependencies
) -> CommandResult:
    run = await deps.repository.get(Run, command.run_id)
    context.principal.require_on("runner", run, run.project_id, "write")
    run.record_artifact(
        name=command.step, kind=command.kind, step=command.step, attempt=command.attempt,
        format=command.format, path=command.path, size=command.size, sha256=command.sha256,
        object_key=command.object_key, retention_days=command.retention_days, at=context.at,
    )  # fmt: skip
    return answer(run, await deps.repository.save(run, metadata=context.metadata()))


async def record_cache(
    command: RecordCache, context: CommandContext, deps: Dependencies
) -> CommandResult:
    run = await deps.repository.get(Run, command.run_id)
    context.principal.require_on("runner", run, run.project_id, "write")
    if command.outcome == "restored":
        run.record_cache_restore(
            step=command.step, attempt=command.attempt, key=command.key, hit=command.hit,
            exact=command.exact, branch=command.branch, object_key=command.object_key,
            matched_key=command.matched_key, restore_key=command.restore_key, at=context.at,
        )  # fmt: skip
    else:
        run.record_cache_save(
            step=command.step, attempt=command.attempt, key=command.key, branch=command.branch,
            object_key=command.object_key, size=command.size, sha256=command.sha256,
            at=context.at,
        )  # fmt: skip
    return answer(run, await deps.repository.save(run, metadata=context.metadata()))


async def delete_artifact(
    command: DeleteArtifact, context: CommandContext, deps: Dependencies
) -> CommandResult:
    run = await deps.repository.get(Run, command.run_id)
    context.principal.require_on("runner", run, run.project_id, "write")
    run.delete_artifact(name=command.name, kind=command.kind, reason=command.reason, at=context.at)
    return answer(run, await deps.repository.save(run, metadata=context.metadata()))


async def evict_cache(
    command: EvictCache, context: CommandContext, deps: Dependencies
) -> CommandResult:
    run = await deps.repository.get(Run, command.run_id)
    context.principal.require_on("runner", run, run.project_id, "write")
    run.evict_cache(
        key=command.key, branch=command.branch, object_key=command.object_key,
        size=command.size, reason=command.reason, at=context.at,
    )  # fmt: skip
    return answer(run, await deps.repository.save(run, metadata=context.metadata()))


HANDLERS = {
    RecordArtifact: record_artifact,
    RecordCache: record_cache,
    DeleteArtifact: delete_artifact,
    EvictCache: evict_cache,
}
