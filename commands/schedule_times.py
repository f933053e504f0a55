"""When a schedule fires: its cron expression read in its time zone, by cronsim.

cronsim follows DST as cron (cronie) does: a slot inside the hour skipped in spring runs at the
first moment after the gap; a slot inside the hour repeated in autumn runs once. Every slot is
handed on in UTC, which names one instant whatever the zone did.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from domain.errors import InvalidValue
from domain.pipeline_definition import PipelineDefinition
from domain.trigger_spec import TriggerSpec

ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
"""The `@` names of cron(8), which cronsim does not read itself, as their five fields."""
_PROBE = datetime(2000, 1, 1, tzinfo=UTC)


@lru_cache(maxsize=4096)
def five_fields(cron: str) -> str:
    """The expression as cronsim reads it; InvalidValue (at `cron`) unless five fields or `@`."""
    text = cron.strip()
    if text.startswith("@"):
        if text.lower() not in ALIASES:
            raise InvalidValue("cron", f"{text!r}: the @ names are {', '.join(ALIASES)}")
        return ALIASES[text.lower()]
    if len(text.split()) != 5:
        raise InvalidValue("cron", "five fields (minute hour day-of-month month day-of-week)")
    try:
        CronSim(text, _PROBE)
    except CronSimError as error:
        raise InvalidValue("cron", f"{text!r}: {error}") from None
    return text


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """The IANA zone `name`; InvalidValue (at `timezone`) if the time zone database lacks it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidValue("timezone", f"{name!r} is no IANA time zone (Europe/Berlin)") from None


def check_schedule_triggers(definition: PipelineDefinition) -> None:
    """InvalidValue at `triggers[i].cron` or `.timezone` for a schedule no calendar can read."""
    for i, trigger in enumerate(definition.triggers):
        if trigger.source != "schedule":
            continue
        try:
            five_fields(trigger.cron)
            zone(trigger.timezone)
        except InvalidValue as error:
            raise InvalidValue(f"triggers[{i}].{error.field}", error.reason) from None


def slots_after(trigger: TriggerSpec, after: datetime) -> CronSim:
    """The schedule's slots strictly after `after`, in order (aware datetimes in its zone)."""
    return CronSim(five_fields(trigger.cron), after.astimezone(zone(trigger.timezone)))


def next_slot(trigger: TriggerSpec, after: datetime) -> datetime:
    """The first slot strictly after `after`, in UTC."""
    return next(slots_after(trigger, after)).astimezone(UTC)


def next_fires(trigger: TriggerSpec, after: datetime, count: int) -> list[datetime]:
    """The next `count` slots strictly after `after`, in UTC."""
    slots = slots_after(trigger, after)
    return [next(slots).astimezone(UTC) for _ in range(count)]


def latest_slot(trigger: TriggerSpec, now: datetime) -> datetime:
    """The last slot at or before `now`, in UTC (cronsim counts in whole seconds)."""
    start = now.replace(microsecond=0) + timedelta(seconds=1)
    local = start.astimezone(zone(trigger.timezone))
    return next(CronSim(five_fields(trigger.cron), local, reverse=True)).astimezone(UTC)
