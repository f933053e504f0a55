"""Which slot of a schedule is due now, and which slots were missed for good.

A schedule is decided on from its anchor (the latest of `since`, the last slot fired and the
last slot this scheduler decided on): the latest slot at or before now that follows it is

- fresh (at most `grace` old): fired;
- older (the scheduler was down), by the schedule's `catch_up`: `skip` fires nothing and
  waits for the next slot, `last` fires that latest missed slot (once, however many were
  missed).

The slots that will never run are reported (`Missed`) to be put on record.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Protocol
from uuid import UUID

import msgspec

from commands.schedule_times import latest_slot, next_slot, slots_after
from domain.schedule_skip import SKIPPED_MAX
from domain.trigger_spec import TriggerSpec


class DueSchedule(Protocol):
    pipeline_id: UUID
    project_id: UUID
    key: str
    trigger: TriggerSpec
    since: datetime
    last_slot: datetime | None


class Missed(msgspec.Struct, frozen=True, kw_only=True):
    """Slots that came and went while no scheduler ran, and will not run."""

    first: datetime
    last: datetime
    count: int


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    fire: datetime | None
    """The slot to fire now, if any."""
    anchor: datetime
    """The latest slot decided on (fired or not): the next decision starts after it."""
    missed: Missed | None = None


def due_slot(
    schedule: DueSchedule, now: datetime, grace: timedelta, anchor: datetime | None = None
) -> Decision:
    """What to do about the schedule now: which slot to fire, which were missed for good."""
    start = max(t for t in (schedule.since, schedule.last_slot, anchor) if t is not None)
    first = next_slot(schedule.trigger, start)
    if first > now:
        return Decision(fire=None, anchor=start)
    latest = latest_slot(schedule.trigger, now)
    fire = now - latest <= grace or schedule.trigger.catch_up == "last"
    unrun_until = latest if not fire else _before(schedule.trigger, first, latest)
    missed = None
    if unrun_until is not None:
        missed = Missed(first=first, last=unrun_until, count=_count(schedule, first, unrun_until))
    return Decision(fire=latest if fire else None, anchor=latest, missed=missed)


def one_due(schedule: DueSchedule, slot: datetime, now: datetime, grace: timedelta) -> Decision:
    """`due_slot` when `slot` is known to be the only slot due: no calendar needed."""
    if now - slot <= grace or schedule.trigger.catch_up == "last":
        return Decision(fire=slot, anchor=slot)
    return Decision(fire=None, anchor=slot, missed=Missed(first=slot, last=slot, count=1))


def two_after(trigger: TriggerSpec, anchor: datetime) -> tuple[datetime, datetime]:
    """The two slots after `anchor`, in UTC."""
    slots = slots_after(trigger, anchor)
    return _utc(next(slots)), _utc(next(slots))


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _before(trigger: TriggerSpec, first: datetime, latest: datetime) -> datetime | None:
    """The slot just before `latest`, if it is not before `first`."""
    if first >= latest:
        return None
    return latest_slot(trigger, latest - timedelta(seconds=1))


def _count(schedule: DueSchedule, first: datetime, last: datetime) -> int:
    slots: Iterator[datetime] = slots_after(schedule.trigger, first)
    count = 1
    while count < SKIPPED_MAX and next(slots) <= last:
        count += 1
    return count
