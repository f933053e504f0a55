"""The rules of a `schedule` trigger's own fields that need no calendar: which fields a
schedule takes, which other sources may not, and that its parameters fit the pipeline's.

Whether a cron expression and a time zone mean something is asked of a cron library and the
time zone database, outside the domain (`commands/schedule_times.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from domain.errors import InvalidValue
from domain.limits import CRON_MAX, SCHEDULE_KEY_MAX
from domain.moments import require_aware


class ScheduleFields(Protocol):
    source: str
    events: tuple[str, ...]
    branches: tuple[str, ...]
    tags: tuple[str, ...]
    cron: str
    timezone: str
    parameters: Mapping[str, object]
    active: bool
    catch_up: str
    schedule: str


def schedule_key(trigger: ScheduleFields) -> str:
    """What names a schedule in its fired runs' identity: its name, else its cron and zone."""
    return trigger.schedule or f"{trigger.cron} {trigger.timezone}"


def check_schedule_fields(trigger: ScheduleFields, at: str) -> None:
    """InvalidValue, under `at`, if a schedule lacks its cron or another source has one."""
    if trigger.source == "schedule":
        if not trigger.cron.strip():
            raise InvalidValue(f"{at}.cron", "a schedule trigger needs a cron expression")
        if len(trigger.cron) > CRON_MAX:
            raise InvalidValue(f"{at}.cron", f"at most {CRON_MAX} characters")
        for field in ("events", "branches", "tags"):
            if getattr(trigger, field):
                raise InvalidValue(f"{at}.{field}", "a schedule trigger has no events or refs")
        if trigger.catch_up not in ("skip", "last"):
            raise InvalidValue(f"{at}.catch_up", "must be skip or last")
        return
    defaults = {"cron": "", "timezone": "UTC", "parameters": {}, "catch_up": "skip"}
    for field, default in {**defaults, "active": True, "schedule": ""}.items():
        if getattr(trigger, field) != default:
            raise InvalidValue(f"{at}.{field}", "only a schedule trigger takes this field")


def check_schedules(
    triggers: Sequence[ScheduleFields],
    resolve: Callable[[Mapping[str, object]], object],
) -> None:
    """Each schedule's parameters resolve against the pipeline's (`resolve` raises at
    `parameters.<name>`), and no two schedules share a name (their runs would collide)."""
    seen: dict[str, int] = {}
    for i, trigger in enumerate(triggers):
        if trigger.source != "schedule":
            continue
        try:
            resolve(trigger.parameters)
        except InvalidValue as error:
            raise InvalidValue(f"triggers[{i}].{error.field}", error.reason) from None
        key = schedule_key(trigger)
        if key in seen:
            raise InvalidValue(
                f"triggers[{i}].schedule",
                f"{key!r} is also triggers[{seen[key]}]: give each its own `schedule` name",
            )
        seen[key] = i


def check_scheduled(scheduled: bool, schedule: str | None, slot: datetime | None) -> None:
    """A run's trigger names its schedule and slot exactly when a schedule fired it."""
    if scheduled and (not schedule or slot is None):
        raise InvalidValue("trigger.schedule", "a scheduled run names its schedule and slot")
    if not scheduled and (schedule is not None or slot is not None):
        raise InvalidValue("trigger.schedule", "only a scheduled run has a schedule and slot")
    if schedule is not None and len(schedule) > SCHEDULE_KEY_MAX:
        raise InvalidValue("trigger.schedule", f"at most {SCHEDULE_KEY_MAX} characters")
    if slot is not None:
        require_aware(slot)
