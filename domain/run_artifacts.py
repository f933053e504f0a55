"""The Run's record of files kept outside it: artifacts, workspaces and cache decisions.

The bytes live in NATS JetStream's object store; the run keeps what an auditor needs: which
step stored what (name, size, sha256, object key, retention), which cache key was hit or
missed, what was saved, and what was deleted or evicted and why. Never the content.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Protocol
from uuid import UUID

import msgspec

from domain.errors import IllegalTransition, InvalidValue
from domain.limits import (
    ARTIFACT_BYTES_MAX,
    ARTIFACTS_PER_RUN_MAX,
    KEY_MAX,
    REASON_MAX,
    REF_MAX,
    RETENTION_DAYS_MAX,
)
from domain.moments import require_aware
from domain.run_state import RunEvent, RunState
from domain.run_values import StepState
from domain.value_checks import valid_text

ARTIFACT_KINDS = ("artifact", "workspace")
FORMATS = ("file", "tar")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class StoredArtifact(msgspec.Struct, frozen=True, kw_only=True):
    object_key: str
    size: int


class ArtifactState(RunState, Protocol):
    project_id: UUID
    pipeline_id: UUID
    artifacts: dict[tuple[str, str], StoredArtifact]
    cache_records: int

    @property
    def ArtifactUploaded(self) -> RunEvent: ...

    @property
    def ArtifactDeleted(self) -> RunEvent: ...

    @property
    def CacheRestored(self) -> RunEvent: ...

    @property
    def CacheSaved(self) -> RunEvent: ...

    @property
    def CacheEvicted(self) -> RunEvent: ...


class ArtifactCommands:
    """Mixed into Run."""

    def record_artifact(
        self: ArtifactState,
        *,
        name: str,
        kind: str,
        step: str,
        attempt: int,
        format: str,
        path: str,
        size: int,
        sha256: str,
        object_key: str,
        retention_days: int,
        at: datetime,
    ) -> None:
        """A step's artifact or workspace was stored; the same record again decides nothing."""
        require_aware(at)
        _one_of("kind", kind, ARTIFACT_KINDS)
        _one_of("format", format, FORMATS)
        state = _attempt_of(self, step, attempt)
        if name != state.name:
            raise InvalidValue("name", "an artifact is named after the step that uploads it")
        _stored(size, sha256, object_key)
        path = valid_text("path", path, limit=REF_MAX, blank=True)
        if (format == "file") != bool(path):
            raise InvalidValue("path", "a file artifact has its path, a tar none")
        if not 1 <= retention_days <= RETENTION_DAYS_MAX:
            raise InvalidValue("retention_days", f"from 1 to {RETENTION_DAYS_MAX}")
        known = self.artifacts.get((kind, name))
        if known == StoredArtifact(object_key=object_key, size=size):
            return
        _room_for_one_more(self)
        self.trigger_event(
            self.ArtifactUploaded, project_id=self.project_id, pipeline_id=self.pipeline_id,
            name=name, kind=kind, step=step, attempt=attempt,
            format=format, path=path, size=size, sha256=sha256, object_key=object_key,
            retention_days=retention_days, timestamp=at,
        )  # fmt: skip

    def delete_artifact(
        self: ArtifactState, *, name: str, kind: str, reason: str, at: datetime
    ) -> None:
        """It was removed from the object store; one already deleted decides nothing."""
        require_aware(at)
        reason = valid_text("reason", reason, limit=REASON_MAX)
        known = self.artifacts.get((kind, name))
        if known is None:
            return
        self.trigger_event(
            self.ArtifactDeleted, name=name, kind=kind, object_key=known.object_key,
            reason=reason, timestamp=at,
        )  # fmt: skip

    def record_cache_restore(
        self: ArtifactState,
        *,
        step: str,
        attempt: int,
        key: str,
        hit: bool,
        exact: bool,
        branch: str,
        object_key: str,
        at: datetime,
        matched_key: str = "",
        restore_key: str = "",
    ) -> None:
        """Before a step: whether an entry for its cache key was found, which, and where.

        A hit matched `key` itself, or (with `restore_key`) an entry whose key starts with
        that prefix; a hit without `matched_key` matched `key` itself.
        """
        require_aware(at)
        _attempt_of(self, step, attempt)
        key, branch = _cache_names(key, branch)
        if exact and not hit:
            raise InvalidValue("exact", "a miss is never an exact hit")
        if hit:
            valid_text("object_key", object_key, limit=REF_MAX)
            matched_key = matched_key or (key if not restore_key else "")
            matched_key = valid_text("matched_key", matched_key, limit=REF_MAX)
        elif matched_key or restore_key:
            raise InvalidValue("matched_key", "a miss matched no key")
        if restore_key:
            valid_text("restore_key", restore_key, limit=REF_MAX)
            if not matched_key.startswith(restore_key):
                raise InvalidValue("matched_key", "a restore key is a prefix of the key matched")
            if exact:
                raise InvalidValue("exact", "an entry found by a restore key is not exact")
        elif hit and matched_key != key:
            raise InvalidValue("matched_key", "without a restore key, the key itself matched")
        _room_for_one_more(self)
        self.trigger_event(
            self.CacheRestored, step=step, attempt=attempt, key=key, hit=hit, exact=exact,
            branch=branch, object_key=object_key if hit else "", matched_key=matched_key,
            restore_key=restore_key, timestamp=at,
        )  # fmt: skip

    def record_cache_save(
        self: ArtifactState,
        *,
        step: str,
        attempt: int,
        key: str,
        branch: str,
        object_key: str,
        size: int,
        sha256: str,
        at: datetime,
    ) -> None:
        require_aware(at)
        _attempt_of(self, step, attempt)
        key, branch = _cache_names(key, branch)
        _stored(size, sha256, object_key)
        _room_for_one_more(self)
        self.trigger_event(
            self.CacheSaved, project_id=self.project_id, pipeline_id=self.pipeline_id,
            step=step, attempt=attempt, key=key, branch=branch,
            object_key=object_key, size=size, sha256=sha256, timestamp=at,
        )  # fmt: skip

    def evict_cache(
        self: ArtifactState,
        *,
        key: str,
        branch: str,
        object_key: str,
        size: int,
        reason: str,
        at: datetime,
    ) -> None:
        """A cache entry this run saved was removed from the object store."""
        require_aware(at)
        key, branch = _cache_names(key, branch)
        valid_text("object_key", object_key, limit=REF_MAX)
        reason = valid_text("reason", reason, limit=REASON_MAX)
        self.trigger_event(
            self.CacheEvicted, key=key, branch=branch, object_key=object_key, size=size,
            reason=reason, timestamp=at,
        )  # fmt: skip


def _attempt_of(run: ArtifactState, step: str, attempt: int) -> StepState:
    run._require_internal("record files of")
    state = run._step(step)
    if run.status.finished:
        raise IllegalTransition("run", run.status.value, "record files of")
    if not 1 <= attempt <= max(state.attempt, 1):
        raise InvalidValue("attempt", f"{step} has had {state.attempt} attempt(s)")
    return state


def _stored(size: int, sha256: str, object_key: str) -> None:
    if isinstance(size, bool) or not 0 <= size <= ARTIFACT_BYTES_MAX:
        raise InvalidValue("size", f"from 0 to {ARTIFACT_BYTES_MAX} bytes")
    if not _SHA256.fullmatch(sha256):
        raise InvalidValue("sha256", "64 lowercase hex digits")
    valid_text("object_key", object_key, limit=REF_MAX)


def _cache_names(key: str, branch: str) -> tuple[str, str]:
    key = valid_text("key", key, limit=REF_MAX)
    branch = valid_text("branch", branch, limit=KEY_MAX * 2, blank=True)
    return key, branch


def _one_of(field: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InvalidValue(field, f"one of {', '.join(allowed)}")


def _room_for_one_more(run: ArtifactState) -> None:
    if len(run.artifacts) + run.cache_records >= ARTIFACTS_PER_RUN_MAX:
        raise InvalidValue("artifacts", f"a run records at most {ARTIFACTS_PER_RUN_MAX} files")
