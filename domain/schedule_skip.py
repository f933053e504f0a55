"""The ScheduleSkip aggregate: slots of a schedule a scheduler decided not to run, and why.

A slot missed while no scheduler ran is the schedule's `catch_up` to decide: `skip` runs none
of them, `last` runs the latest and none before it. Either way the slots not run are put on
record once: one stream per (pipeline, schedule, latest missed slot), so a second scheduler
deciding the same finds the stream and writes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.errors import InvalidValue
from domain.limits import SCHEDULE_KEY_MAX
from domain.moments import require_aware

SKIPPED_MAX = 10_000
"""Missed slots counted one by one; past this the count says `at least`."""
_NAMESPACE = UUID("0b8a2f4e-5d1c-4f3a-9e7b-6c2d1a0f9e84")
"""Fixed forever: a skip's stream id must be the same for every scheduler, every release."""


def skip_stream_id(pipeline_id: UUID, schedule: str, last: datetime) -> UUID:
    return uuid5(_NAMESPACE, f"{pipeline_id}/{schedule}/{last.isoformat()}")


class ScheduleSkip(Aggregate):
    stream_type = "schedule_skip"

    class Event(Aggregate.Event):
        pass

    class Skipped(Event, Aggregate.Created):
        event_type: ClassVar[str] = "ScheduleSlotsSkipped"
        project_id: UUID
        pipeline_id: UUID
        schedule: str
        first: datetime
        """The earliest slot not run."""
        last: datetime
        """The latest slot not run."""
        count: int
        """How many slots were not run (at most SKIPPED_MAX: then at least that many)."""
        catch_up: str
        reason: str

    def __init__(
        self,
        project_id: UUID,
        pipeline_id: UUID,
        schedule: str,
        first: datetime,
        last: datetime,
        count: int,
        catch_up: str,
        reason: str,
    ) -> None:
        self.project_id, self.pipeline_id, self.schedule = project_id, pipeline_id, schedule
        self.first, self.last, self.count = first, last, count
        self.catch_up, self.reason = catch_up, reason

    @classmethod
    def record(
        cls,
        *,
        project_id: UUID,
        pipeline_id: UUID,
        schedule: str,
        first: datetime,
        last: datetime,
        count: int,
        catch_up: str,
        at: datetime,
    ) -> ScheduleSkip:
        for moment in (first, last, at):
            require_aware(moment)
        if not first <= last:
            raise InvalidValue("first", "the first slot skipped comes before the last")
        if not 1 <= count <= SKIPPED_MAX:
            raise InvalidValue("count", f"1 to {SKIPPED_MAX} slots")
        if not 1 <= len(schedule) <= SCHEDULE_KEY_MAX:
            raise InvalidValue("schedule", f"1 to {SCHEDULE_KEY_MAX} characters")
        if catch_up not in ("skip", "last"):
            raise InvalidValue("catch_up", "skip or last")
        reason = (
            "missed while no scheduler ran; catch_up skip runs none of the missed slots"
            if catch_up == "skip"
            else "missed while no scheduler ran; catch_up last runs only the latest"
        )
        return cls._create(
            cls.Skipped,
            id=skip_stream_id(pipeline_id, schedule, last),
            timestamp=at,
            project_id=project_id,
            pipeline_id=pipeline_id,
            schedule=schedule,
            first=first,
            last=last,
            count=count,
            catch_up=catch_up,
            reason=reason,
        )
