"""The Runner aggregate: a process that runs steps; registered, re-registered, lost, gone."""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import datetime
from enum import StrEnum
from typing import ClassVar
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.errors import InvalidValue, RunnerNotActive
from domain.limits import CONCURRENCY_MAX, HOST_MAX, KEY_MAX, VERSION_TEXT_MAX
from domain.moments import require_aware
from domain.value_checks import valid_text

LABELS_MAX = 20
VERSION_MAX = VERSION_TEXT_MAX
REASON_MAX = 1000
RUNNER_NAMESPACE = UUID("3d7e0f5a-9b21-5c44-8e6f-1a2b3c4d5e6f")
"""Fixed forever: a runner's id is derived from its name with it."""
_LABEL = re.compile(r"[A-Za-z0-9_.:-]{1,100}")


def runner_id_for(name: str) -> UUID:
    """One name, one runner: registering the same name again re-registers that runner."""
    return uuid5(RUNNER_NAMESPACE, name.strip())


class RunnerStatus(StrEnum):
    ACTIVE = "active"
    LOST = "lost"
    """It stopped heartbeating; its running steps failed with reason `runner_lost`."""
    OFFLINE = "offline"
    """It said goodbye (deregistered)."""


class Runner(Aggregate):
    """A runner process known by its name; its liveness (heartbeats) is kept outside the events.

    - Registering a name that exists re-registers it: a new process took the name, so whatever
      the old one was running is lost (the dispatcher fails those steps `runner_lost`).
    - Marking a runner lost that is not active, or deregistering an offline one, decides nothing.
    """

    stream_type = "runner"

    class Event(Aggregate.Event):
        pass

    class Registered(Event, Aggregate.Created):
        event_type: ClassVar[str] = "RunnerRegistered"
        name: str
        labels: tuple[str, ...]
        host: str
        version: str
        concurrency: int
        project_id: UUID | None

    class Reregistered(Event):
        event_type: ClassVar[str] = "RunnerReregistered"
        labels: tuple[str, ...]
        host: str
        version: str
        concurrency: int
        previous_status: str

        def apply(self, aggregate: Runner) -> None:
            aggregate.labels = self.labels
            aggregate.host = self.host
            aggregate.runner_version = self.version
            aggregate.concurrency = self.concurrency
            aggregate.status = RunnerStatus.ACTIVE

    class Lost(Event):
        event_type: ClassVar[str] = "RunnerLost"
        last_seen: datetime | None
        reason: str

        def apply(self, aggregate: Runner) -> None:
            aggregate.status = RunnerStatus.LOST

    class Deregistered(Event):
        event_type: ClassVar[str] = "RunnerDeregistered"

        def apply(self, aggregate: Runner) -> None:
            aggregate.status = RunnerStatus.OFFLINE

    def __init__(
        self,
        name: str,
        labels: tuple[str, ...],
        host: str,
        version: str,
        concurrency: int,
        project_id: UUID | None,
    ) -> None:
        self.name = name
        self.labels = labels
        self.host = host
        self.runner_version = version
        self.concurrency = concurrency
        self.project_id = project_id
        self.status = RunnerStatus.ACTIVE

    @classmethod
    def register(
        cls,
        *,
        name: str,
        labels: Collection[str],
        host: str,
        version: str,
        concurrency: int,
        project_id: UUID | None,
        at: datetime,
    ) -> Runner:
        """A new runner; its id is derived from its name (`runner_id_for`)."""
        require_aware(at)
        name = valid_text("name", name, limit=KEY_MAX)
        return cls._create(
            cls.Registered,
            id=runner_id_for(name),
            timestamp=at,
            name=name,
            project_id=project_id,
            **_valid_details(labels, host, version, concurrency),
        )

    def reregister(
        self,
        *,
        labels: Collection[str],
        host: str,
        version: str,
        concurrency: int,
        at: datetime,
    ) -> None:
        """A (new) process took this runner's name: always recorded, whatever the state."""
        require_aware(at)
        details = _valid_details(labels, host, version, concurrency)
        self.trigger_event(
            self.Reregistered, previous_status=self.status.value, timestamp=at, **details
        )

    def mark_lost(self, *, last_seen: datetime | None, reason: str, at: datetime) -> None:
        require_aware(at)
        if last_seen is not None:
            require_aware(last_seen)
        reason = valid_text("reason", reason, limit=REASON_MAX)
        if self.status is not RunnerStatus.ACTIVE:
            return
        self.trigger_event(self.Lost, last_seen=last_seen, reason=reason, timestamp=at)

    def deregister(self, *, at: datetime) -> None:
        require_aware(at)
        if self.status is RunnerStatus.OFFLINE:
            return
        self.trigger_event(self.Deregistered, timestamp=at)

    def require_active(self) -> None:
        """Heartbeats are only taken from an active runner; a lost one must register again."""
        if self.status is not RunnerStatus.ACTIVE:
            raise RunnerNotActive(str(self.id), self.status.value)


def _valid_details(
    labels: Collection[str], host: str, version: str, concurrency: int
) -> dict[str, object]:
    if isinstance(labels, str):
        raise InvalidValue("labels", "a list of labels, not one string")
    cleaned = tuple(dict.fromkeys(label.strip() for label in labels))
    if not 1 <= len(cleaned) <= LABELS_MAX:
        raise InvalidValue("labels", f"between 1 and {LABELS_MAX} distinct labels")
    for label in cleaned:
        if not _LABEL.fullmatch(label):
            raise InvalidValue("labels", f"{label!r}: 1-100 letters, digits, '_', '.', ':' or '-'")
    if isinstance(concurrency, bool) or not 1 <= concurrency <= CONCURRENCY_MAX:
        raise InvalidValue("concurrency", f"between 1 and {CONCURRENCY_MAX}")
    return {
        "labels": cleaned,
        "host": valid_text("host", host, limit=HOST_MAX),
        "version": valid_text("version", version, limit=VERSION_MAX),
        "concurrency": concurrency,
    }
