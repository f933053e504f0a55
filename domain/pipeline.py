"""The Pipeline aggregate: a project's versioned pipeline definition and its lifecycle."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.errors import IllegalTransition, UnknownPipelineVersion
from domain.moments import require_aware
from domain.pipeline_definition import PipelineDefinition

FIRST_VERSION = 1


class PipelineStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    ARCHIVED = "archived"


class Pipeline(Aggregate):
    """Created active at version 1 of its definition; each new definition is the next version.

    Every version is kept, so a run can pin the one it started from. Active ⇄ inactive, and
    either may be archived. Archiving is final: every command on an archived pipeline is an
    IllegalTransition. Activating an active pipeline, deactivating an inactive one and
    defining the current definition again decide nothing.
    """

    stream_type = "pipeline"

    class Event(Aggregate.Event):
        pass

    class Created(Event, Aggregate.Created):
        event_type: ClassVar[str] = "PipelineCreated"
        project_id: UUID
        version: int
        definition: PipelineDefinition

    class VersionDefined(Event):
        event_type: ClassVar[str] = "PipelineVersionDefined"
        version: int
        definition: PipelineDefinition

        def apply(self, aggregate: Pipeline) -> None:
            aggregate.definitions[self.version] = self.definition
            aggregate.current_version = self.version

    class Activated(Event):
        event_type: ClassVar[str] = "PipelineActivated"

        def apply(self, aggregate: Pipeline) -> None:
            aggregate.status = PipelineStatus.ACTIVE

    class Deactivated(Event):
        event_type: ClassVar[str] = "PipelineDeactivated"

        def apply(self, aggregate: Pipeline) -> None:
            aggregate.status = PipelineStatus.INACTIVE

    class Archived(Event):
        event_type: ClassVar[str] = "PipelineArchived"

        def apply(self, aggregate: Pipeline) -> None:
            aggregate.status = PipelineStatus.ARCHIVED

    def __init__(self, project_id: UUID, version: int, definition: PipelineDefinition) -> None:
        # Runs for `Created`, on creation and on every replay: assignments only. `version`
        # is the definition's; the aggregate's own `version` is its stream position.
        self.project_id = project_id
        self.definitions: dict[int, PipelineDefinition] = {version: definition}
        self.current_version = version
        self.status = PipelineStatus.ACTIVE

    @classmethod
    def create(
        cls, *, id: UUID, project_id: UUID, definition: PipelineDefinition, at: datetime
    ) -> Pipeline:
        require_aware(at)
        return cls._create(
            cls.Created,
            id=id,
            timestamp=at,
            project_id=project_id,
            version=FIRST_VERSION,
            definition=definition.validated(),
        )

    @property
    def active(self) -> bool:
        return self.status is PipelineStatus.ACTIVE

    @property
    def archived(self) -> bool:
        return self.status is PipelineStatus.ARCHIVED

    def definition(self, version: int | None = None) -> PipelineDefinition:
        """The definition at `version` (the current one by default), as a run pins it."""
        version = self.current_version if version is None else version
        try:
            return self.definitions[version]
        except KeyError:
            raise UnknownPipelineVersion(self.id, version) from None

    def define_version(self, definition: PipelineDefinition, *, at: datetime) -> None:
        """Make `definition` the next version; the current definition again decides nothing."""
        self._require_not_archived("redefine")
        require_aware(at)
        definition = definition.validated()
        if definition != self.definition():
            self.trigger_event(
                self.VersionDefined,
                version=self.current_version + 1,
                definition=definition,
                timestamp=at,
            )

    def activate(self, *, at: datetime) -> None:
        """Let the pipeline start runs again; on an active pipeline, decides nothing."""
        self._require_not_archived("activate")
        require_aware(at)
        if self.status is PipelineStatus.INACTIVE:
            self.trigger_event(self.Activated, timestamp=at)

    def deactivate(self, *, at: datetime) -> None:
        """Stop the pipeline starting runs; on an inactive pipeline, decides nothing."""
        self._require_not_archived("deactivate")
        require_aware(at)
        if self.status is PipelineStatus.ACTIVE:
            self.trigger_event(self.Deactivated, timestamp=at)

    def archive(self, *, at: datetime) -> None:
        """Retire the pipeline for good; its versions stay readable for the runs that pin them."""
        self._require_not_archived("archive")
        require_aware(at)
        self.trigger_event(self.Archived, timestamp=at)

    def _require_not_archived(self, attempted: str) -> None:
        if self.status is PipelineStatus.ARCHIVED:
            raise IllegalTransition("pipeline", self.status.value, attempted)
