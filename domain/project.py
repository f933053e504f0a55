"""The Project aggregate: a namespace that owns pipelines, webhook sources and API keys."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.errors import IllegalTransition, InvalidValue
from domain.limits import DESCRIPTION_MAX, NAME_MAX
from domain.moments import require_aware

QUEUE_TIMEOUT_MIN_S, QUEUE_TIMEOUT_MAX_S = 1, 86_400
"""As a step's own `queue_timeout_s`."""

_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


class ProjectStatus(StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"


class Project(Aggregate):
    """Created with a name, a slug (its short key) and a description; renamed; given a default
    queue timeout; archived.

    Archiving is final: an archived project can be neither renamed nor archived again.
    """

    stream_type = "project"

    class Event(Aggregate.Event):
        pass

    class Created(Event, Aggregate.Created):
        """Schema v2 added `description`; v1 events are read back with an empty one."""

        event_type: ClassVar[str] = "ProjectCreated"
        schema_version: ClassVar[int] = 2
        name: str
        slug: str
        description: str

        @staticmethod
        def upcast_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
            return {**data, "description": ""}

    class Renamed(Event):
        event_type: ClassVar[str] = "ProjectRenamed"
        name: str

        def apply(self, aggregate: Project) -> None:
            aggregate.name = self.name

    class Archived(Event):
        event_type: ClassVar[str] = "ProjectArchived"

        def apply(self, aggregate: Project) -> None:
            aggregate.status = ProjectStatus.ARCHIVED

    class QueueTimeoutSet(Event):
        """The queue timeout of the project's steps that set none (None: the server's)."""

        event_type: ClassVar[str] = "ProjectQueueTimeoutSet"
        default_queue_timeout_s: int | None
        reason: str

        def apply(self, aggregate: Project) -> None:
            aggregate.default_queue_timeout_s = self.default_queue_timeout_s

    def __init__(self, name: str, slug: str, description: str) -> None:
        # Runs for `Created`, on creation and on every replay: assignments only.
        self.name = name
        self.slug = slug
        self.description = description
        self.status = ProjectStatus.ACTIVE
        self.default_queue_timeout_s: int | None = None

    @classmethod
    def create(
        cls, *, id: UUID, name: str, slug: str, description: str = "", at: datetime
    ) -> Project:
        require_aware(at)
        description = description.strip()
        if len(description) > DESCRIPTION_MAX:
            raise InvalidValue("description", f"at most {DESCRIPTION_MAX} characters")
        if not _SLUG.fullmatch(slug):
            raise InvalidValue(
                "slug", "1-63 lowercase letters, digits or '-', not starting or ending with '-'"
            )
        return cls._create(
            cls.Created,
            id=id,
            timestamp=at,
            name=_valid_name(name),
            slug=slug,
            description=description,
        )

    def rename(self, name: str, *, at: datetime) -> None:
        """Rename the project; renaming to its current name decides nothing."""
        self._require_active("rename")
        require_aware(at)
        name = _valid_name(name)
        if name != self.name:
            self.trigger_event(self.Renamed, name=name, timestamp=at)

    def set_queue_timeout(self, seconds: int | None, *, reason: str, at: datetime) -> None:
        """How long a step that sets no `queue_timeout_s` waits for a runner before it fails
        `no_runner`; None goes back to the server's default. The same value decides nothing."""
        self._require_active("set the queue timeout of")
        require_aware(at)
        if seconds is not None and not QUEUE_TIMEOUT_MIN_S <= seconds <= QUEUE_TIMEOUT_MAX_S:
            raise InvalidValue(
                "default_queue_timeout_s",
                f"an integer from {QUEUE_TIMEOUT_MIN_S} to {QUEUE_TIMEOUT_MAX_S}, or null",
            )
        reason = reason.strip()
        if len(reason) > DESCRIPTION_MAX:
            raise InvalidValue("reason", f"at most {DESCRIPTION_MAX} characters")
        if seconds != self.default_queue_timeout_s:
            self.trigger_event(
                self.QueueTimeoutSet, default_queue_timeout_s=seconds, reason=reason, timestamp=at
            )

    def archive(self, *, at: datetime) -> None:
        self._require_active("archive")
        require_aware(at)
        self.trigger_event(self.Archived, timestamp=at)

    def _require_active(self, attempted: str) -> None:
        if self.status is not ProjectStatus.ACTIVE:
            raise IllegalTransition("project", self.status.value, attempted)


def _valid_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise InvalidValue("name", "must not be blank")
    if len(name) > NAME_MAX:
        raise InvalidValue("name", f"at most {NAME_MAX} characters")
    return name
