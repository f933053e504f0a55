"""The Run's record of files: the checkout, artifacts, workspaces and cache decisions."""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.run_artifacts import ArtifactState, StoredArtifact


class FileEvents:
    """Redefined on `Run` by eventsourcing, as `domain.run_step_events.StepEvents` are."""

    class StepCheckedOut(Aggregate.Event):
        """The running attempt fetched the run's repository and checked out `sha` at `path`."""

        event_type: ClassVar[str] = "StepCheckedOut"
        step: str
        attempt: int
        sha: str
        duration_ms: int
        path: str

    class ArtifactUploaded(Aggregate.Event):
        """A step's artifact (or its workspace, kind `workspace`) lies in the object store."""

        event_type: ClassVar[str] = "ArtifactUploaded"
        project_id: UUID
        pipeline_id: UUID
        name: str
        kind: str
        step: str
        attempt: int
        format: str
        path: str
        """For format `file`: where it lay in the workspace (a later step gets it there)."""
        size: int
        sha256: str
        object_key: str
        retention_days: int

        def apply(self, aggregate: ArtifactState) -> None:
            aggregate.artifacts[(self.kind, self.name)] = StoredArtifact(
                object_key=self.object_key, size=self.size
            )

    class ArtifactDeleted(Aggregate.Event):
        """Removed from the object store (its retention ran out)."""

        event_type: ClassVar[str] = "ArtifactDeleted"
        name: str
        kind: str
        object_key: str
        reason: str

        def apply(self, aggregate: ArtifactState) -> None:
            aggregate.artifacts.pop((self.kind, self.name), None)

    class CacheRestored(Aggregate.Event):
        """Before a step: an entry for its cache key was found (`hit`, on `branch`) or not.

        `matched_key` is the key of the entry restored: `key` itself, or (when `restore_key`
        is set) the newest entry whose key starts with that `restore_keys` prefix. `exact`:
        `key` itself on the run's own branch (the step then saves nothing). Schema v2 added
        `matched_key` and `restore_key`; a v1 hit matched `key` itself.
        """

        event_type: ClassVar[str] = "CacheRestored"
        schema_version: ClassVar[int] = 2
        step: str
        attempt: int
        key: str
        hit: bool
        exact: bool
        branch: str
        object_key: str
        matched_key: str
        restore_key: str

        @staticmethod
        def upcast_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
            matched = data["key"] if data["hit"] else ""
            return {**data, "matched_key": matched, "restore_key": ""}

        def apply(self, aggregate: ArtifactState) -> None:
            aggregate.cache_records += 1

    class CacheSaved(Aggregate.Event):
        """After a step: its cache paths saved under `key` for the pipeline and `branch`."""

        event_type: ClassVar[str] = "CacheSaved"
        project_id: UUID
        pipeline_id: UUID
        step: str
        attempt: int
        key: str
        branch: str
        object_key: str
        size: int
        sha256: str

        def apply(self, aggregate: ArtifactState) -> None:
            aggregate.cache_records += 1

    class CacheEvicted(Aggregate.Event):
        """A cache entry this run saved was removed to keep the caches under their size limit."""

        event_type: ClassVar[str] = "CacheEvicted"
        key: str
        branch: str
        object_key: str
        size: int
        reason: str

        def apply(self, aggregate: ArtifactState) -> None:
            aggregate.cache_records += 1
