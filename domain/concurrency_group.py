"""A concurrency group: the runs that share one key, one of them holding it at a time.

A member is a run (its id), or one step of a run (`member_id_for`) in a step's own group; the
events call either `run_id`.

Its stream is the arbiter: every join and release is appended with the version the deciding
process loaded, so two API or dispatcher processes deciding at once cannot both admit a run
(the loser's append fails and its command is retried on the new state).

- `queue`: a run joining a held group waits behind the runs already waiting; when the holder
  ends, the first waiting run is admitted.
- `cancel_in_progress`: a run joining supersedes the holder and every waiting run (each
  recorded with the run that superseded it; the dispatcher cancels them), then waits for the
  holder to end, so two runs of the group never run side by side.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.concurrency_spec import ConcurrencyPolicy
from domain.moments import require_aware

GROUP_NAMESPACE = UUID("0b3c9a52-41de-5f7a-8c1e-2d6f4a9b7e30")
"""Fixed forever: a project's key always names the same group stream."""


def group_id_for(project_id: UUID, key: str) -> UUID:
    return uuid5(GROUP_NAMESPACE, f"{project_id}/{key}")


def member_id_for(run_id: UUID, step: str) -> UUID:
    """A step's place in a group (a run takes its place by its own id)."""
    return uuid5(GROUP_NAMESPACE, f"{run_id}/{step}")


class ConcurrencyGroup(Aggregate):
    stream_type = "concurrency_group"

    class Event(Aggregate.Event):
        pass

    class Opened(Event, Aggregate.Created):
        event_type: ClassVar[str] = "ConcurrencyGroupOpened"
        project_id: UUID
        key: str

    class RunAdmitted(Event):
        """The run holds the group: its steps may be dispatched."""

        event_type: ClassVar[str] = "ConcurrencyRunAdmitted"
        run_id: UUID

        def apply(self, aggregate: ConcurrencyGroup) -> None:
            aggregate.holder = self.run_id
            aggregate.holder_superseded = False
            if self.run_id in aggregate.waiting:
                aggregate.waiting.remove(self.run_id)

    class RunWaiting(Event):
        """The run waits its turn behind `behind`, the run holding the group."""

        event_type: ClassVar[str] = "ConcurrencyRunWaiting"
        run_id: UUID
        behind: UUID

        def apply(self, aggregate: ConcurrencyGroup) -> None:
            aggregate.waiting.append(self.run_id)

    class RunSuperseded(Event):
        """A newer run of the group (`by`) replaces this one, which is to be cancelled."""

        event_type: ClassVar[str] = "ConcurrencyRunSuperseded"
        run_id: UUID
        by: UUID

        def apply(self, aggregate: ConcurrencyGroup) -> None:
            if self.run_id == aggregate.holder:
                aggregate.holder_superseded = True
            elif self.run_id in aggregate.waiting:
                aggregate.waiting.remove(self.run_id)

    class RunReleased(Event):
        """The run ended: it holds and waits for the group no more."""

        event_type: ClassVar[str] = "ConcurrencyRunReleased"
        run_id: UUID

        def apply(self, aggregate: ConcurrencyGroup) -> None:
            if aggregate.holder == self.run_id:
                aggregate.holder = None
            elif self.run_id in aggregate.waiting:
                aggregate.waiting.remove(self.run_id)

    def __init__(self, project_id: UUID, key: str) -> None:
        self.project_id = project_id
        self.key = key
        self.holder: UUID | None = None
        self.holder_superseded = False
        self.waiting: list[UUID] = []

    @classmethod
    def open(cls, *, project_id: UUID, key: str, at: datetime) -> ConcurrencyGroup:
        require_aware(at)
        return cls._create(
            cls.Opened,
            id=group_id_for(project_id, key),
            timestamp=at,
            project_id=project_id,
            key=key,
        )

    def join(self, run_id: UUID, policy: ConcurrencyPolicy, *, at: datetime) -> None:
        """The run takes the group, or waits for it; joining again decides nothing."""
        require_aware(at)
        if run_id == self.holder or run_id in self.waiting:
            return
        if policy == "cancel_in_progress":
            older = [] if self.holder is None or self.holder_superseded else [self.holder]
            for run in [*older, *self.waiting]:
                self.trigger_event(self.RunSuperseded, run_id=run, by=run_id, timestamp=at)
        if self.holder is None:
            self.trigger_event(self.RunAdmitted, run_id=run_id, timestamp=at)
        else:
            self.trigger_event(self.RunWaiting, run_id=run_id, behind=self.holder, timestamp=at)

    def release(self, run_id: UUID, *, at: datetime) -> None:
        """The run ended; the first waiting run, if any, takes the group. A run not in the
        group (released already, or superseded while waiting) decides nothing."""
        require_aware(at)
        if run_id != self.holder and run_id not in self.waiting:
            return
        self.trigger_event(self.RunReleased, run_id=run_id, timestamp=at)
        if self.holder is None and self.waiting:
            self.trigger_event(self.RunAdmitted, run_id=self.waiting[0], timestamp=at)
