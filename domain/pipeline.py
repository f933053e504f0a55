"""The Pipeline aggregate: a project's versioned pipeline definition and its lifecycle."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar
from uuid import UUID

import msgspec
from eventsourcing.domain import Aggregate

from domain.errors import IllegalTransition, InvalidValue, UnknownPipelineVersion
from domain.moments import require_aware
from domain.pipeline_definition import PipelineDefinition
from domain.pipeline_file import FileOrigin, FileProblem

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

    class VersionReadFromRepository(Event):
        """A version defined by the pipeline file a push named: where it was read from."""

        event_type: ClassVar[str] = "PipelineVersionReadFromRepository"
        version: int
        definition: PipelineDefinition
        origin: FileOrigin

        def apply(self, aggregate: Pipeline) -> None:
            aggregate.definitions[self.version] = self.definition
            aggregate.current_version = self.version

    class RepositoryFileRefused(Event):
        """The pipeline file a push named could not define a version: no run was started."""

        event_type: ClassVar[str] = "PipelineRepositoryFileRefused"
        origin: FileOrigin
        problem: FileProblem

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

    def define_version_from_repository(
        self, definition: PipelineDefinition, origin: FileOrigin, *, at: datetime
    ) -> int:
        """Make the file's `definition` the next version; the version a run of it uses.

        The file says how the pipeline runs, not where its file is: `repository_file` stays
        as the pipeline has it (a file that names another is refused), so a push can never
        point the next read at another place or another secret.
        """
        self._require_not_archived("redefine")
        self._require_active()
        require_aware(at)
        current = self.definition()
        if definition.repository_file not in (None, current.repository_file):
            raise InvalidValue(
                "repository_file",
                "the file cannot change where the pipeline's file is: change it through the API",
            )
        definition = msgspec.structs.replace(
            definition, repository_file=current.repository_file
        ).validated()
        if definition == current:
            return self.current_version
        self.trigger_event(
            self.VersionReadFromRepository,
            version=self.current_version + 1,
            definition=definition,
            origin=origin,
            timestamp=at,
        )
        return self.current_version

    def refuse_repository_file(
        self, origin: FileOrigin, problem: FileProblem, *, at: datetime
    ) -> None:
        """Put on record why the file at `origin` defined nothing (and so started no run)."""
        self._require_not_archived("read a file for")
        require_aware(at)
        self.trigger_event(self.RepositoryFileRefused, origin=origin, problem=problem, timestamp=at)

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

    def _require_active(self) -> None:
        if self.status is not PipelineStatus.ACTIVE:
            raise IllegalTransition("pipeline", self.status.value, "read a file for")

    def _require_not_archived(self, attempted: str) -> None:
        if self.status is PipelineStatus.ARCHIVED:
            raise IllegalTransition("pipeline", self.status.value, attempted)
