"""A pipeline's schedules as its view shows them: each with its next fire times."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from commands.schedule_times import next_fires
from domain.trigger_schedule import schedule_key
from domain.trigger_spec import TriggerSpec
from projections.pipeline_rows import PipelineRow

NEXT_FIRES = 3


class ScheduleView(msgspec.Struct, frozen=True, kw_only=True):
    schedule: str
    """Its name (or its cron and zone): what each run it fires records as `trigger.schedule`."""
    cron: str
    timezone: str
    active: bool
    catch_up: str
    next_fires: tuple[datetime, ...]
    """The next slots (UTC); none while the schedule or its pipeline is inactive."""


class PipelineView(PipelineRow, kw_only=True):
    """A pipeline, and its schedule triggers with their next fire times."""

    schedules: tuple[ScheduleView, ...] = ()


def with_schedules(row: PipelineRow, now: datetime) -> PipelineView:
    triggers: list[Any] = row.definition.get("triggers") or []
    views = []
    for raw in triggers:
        trigger = msgspec.convert(raw, TriggerSpec)
        if trigger.source != "schedule":
            continue
        fires = trigger.active and row.active
        views.append(
            ScheduleView(
                schedule=schedule_key(trigger),
                cron=trigger.cron,
                timezone=trigger.timezone,
                active=trigger.active,
                catch_up=trigger.catch_up,
                next_fires=tuple(next_fires(trigger, now, NEXT_FIRES)) if fires else (),
            )
        )
    return PipelineView(**msgspec.structs.asdict(row), schedules=tuple(views))
