"""When schedules fire: cronsim in the schedule's zone, DST, catch-up, and the slot key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commands.schedule_times import five_fields, latest_slot, next_fires, next_slot
from commands.scheduler import due_slot, slot_key
from domain.errors import InvalidValue
from domain.trigger_spec import TriggerSpec

GRACE = timedelta(seconds=60)


class Due(msgspec.Struct):
    pipeline_id: object
    project_id: object
    key: str
    trigger: TriggerSpec
    since: datetime
    last_slot: datetime | None = None


def schedule(cron: str, zone: str = "UTC", catch_up: str = "skip") -> TriggerSpec:
    return TriggerSpec(source="schedule", cron=cron, timezone=zone, catch_up=catch_up)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_aliases_are_their_five_fields_and_others_are_refused() -> None:
    assert five_fields("@hourly") == "0 * * * *" and five_fields("@DAILY") == "0 0 * * *"
    for bad in ("@fortnightly", "* * * *", "* * * * * *", "60 * * * *", "0 0 30 2 *"):
        with pytest.raises(InvalidValue) as refused:
            five_fields(bad)
        assert refused.value.field == "cron"


def test_berlin_spring_and_autumn() -> None:
    daily = schedule("30 2 * * *", "Europe/Berlin")
    fires = next_fires(daily, at("2027-03-27T12:00:00"), 3)
    assert fires == [
        at("2027-03-28T01:00:00"),
        at("2027-03-29T00:30:00"),
        at("2027-03-30T00:30:00"),
    ]
    autumn = next_fires(daily, at("2027-10-30T12:00:00"), 2)
    assert autumn == [at("2027-10-31T00:30:00"), at("2027-11-01T01:30:00")]


def test_latest_slot_includes_now_itself() -> None:
    hourly = schedule("0 * * * *")
    assert latest_slot(hourly, at("2026-01-01T10:00:00")) == at("2026-01-01T10:00:00")
    assert latest_slot(hourly, at("2026-01-01T09:59:59.999")) == at("2026-01-01T09:00:00")


@pytest.mark.parametrize(
    ("now", "policy", "fired"),
    [
        ("2026-01-01T10:00:30", "skip", "2026-01-01T10:00:00"),  # fresh
        ("2026-01-01T12:30:00", "skip", None),  # missed while down: skipped
        ("2026-01-01T12:30:00", "last", "2026-01-01T12:00:00"),  # the last missed, once
        ("2026-01-01T09:59:00", "last", None),  # not yet
    ],
)
def test_due_slot(now: str, policy: str, fired: str | None) -> None:
    due = Due(
        uuid4(), uuid4(), "k", schedule("0 * * * *", catch_up=policy), at("2026-01-01T09:30:00")
    )
    assert due_slot(due, at(now), GRACE).fire == (at(fired) if fired else None)


@settings(max_examples=200, deadline=None)
@given(
    cron=st.sampled_from(["* * * * *", "*/7 * * * *", "0 * * * *", "15,45 3-5 * * 1-5"]),
    zone=st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"]),
    steps=st.lists(st.integers(1, 400), min_size=1, max_size=60),
)
def test_ticks_no_further_apart_than_the_grace_fire_every_slot_once(
    cron: str, zone: str, steps: list[int]
) -> None:
    trigger = schedule(cron, zone)
    since = at("2027-03-27T22:00:00")
    due = Due(uuid4(), uuid4(), "k", trigger, since)
    now, anchor, fired, missed = since, None, [], []
    for seconds in steps:  # ticks at most 400 s apart, grace 600 s
        now += timedelta(seconds=seconds)
        decision = due_slot(due, now, timedelta(seconds=600), anchor)
        anchor = decision.anchor
        if decision.fire is not None:
            fired.append(decision.fire)
        if decision.missed is not None:
            missed.extend(slots_between(trigger, decision.missed.first, decision.missed.last))
            assert len(missed) == len(set(missed))
    expected, t = [], since
    while (t := next_slot(trigger, t)) <= now:
        expected.append(t)
    # Each tick fires the latest slot: slots closer together than the ticks are skipped
    # only when several fell between two ticks (a cron finer than the tick rate).
    assert fired == sorted(set(fired)), "no slot twice, in order"
    assert sorted(fired + missed) == expected, "each slot fired or put on record as missed"
    if all(s <= 60 for s in steps):
        assert fired == expected, "ticks at most a minute apart miss no slot"


def slots_between(trigger: TriggerSpec, first: datetime, last: datetime) -> list[datetime]:
    slots, t = [first], first
    while (t := next_slot(trigger, t)) <= last:
        slots.append(t)
    return slots


def test_missed_slots_are_counted_and_bounded() -> None:
    hourly = Due(uuid4(), uuid4(), "k", schedule("0 * * * *"), at("2026-01-01T09:30:00"))
    decision = due_slot(hourly, at("2026-01-01T12:30:00"), GRACE)
    assert decision.fire is None and decision.missed is not None
    assert (decision.missed.first, decision.missed.last, decision.missed.count) == (
        at("2026-01-01T10:00:00"),
        at("2026-01-01T12:00:00"),
        3,
    )
    late = msgspec.structs.replace(hourly, trigger=schedule("0 * * * *", catch_up="last"))
    decision = due_slot(late, at("2026-01-01T12:30:00"), GRACE)
    assert decision.fire == at("2026-01-01T12:00:00")
    assert (decision.missed.last, decision.missed.count) == (at("2026-01-01T11:00:00"), 2)
    minutely = Due(uuid4(), uuid4(), "k", schedule("* * * * *"), at("2000-01-01T00:00:00"))
    assert due_slot(minutely, at("2026-01-01T00:00:30"), GRACE).missed.count == 10_000


def test_the_slot_key_is_short_and_distinct() -> None:
    pipeline, slot = uuid4(), at("2026-01-01T10:00:00")
    long = "x" * 165
    assert len(f"scheduler:{slot_key(pipeline, long, slot)}") <= 255
    assert slot_key(pipeline, "a", slot) != slot_key(pipeline, "b", slot)
    assert slot_key(pipeline, "a", slot) != slot_key(pipeline, "a", slot + timedelta(minutes=1))
