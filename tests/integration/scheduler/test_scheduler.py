"""Schedules end to end: defined over HTTP, fired by three schedulers on one controlled clock,
each fired run read back from the events table (who fired it, for which slot)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from litestar.testing import AsyncTestClient

from adapters.platform.services import Services
from tests.integration.scheduler.conftest import (
    Clock,
    Schedulers,
    scheduled_pipeline,
    scheduled_runs,
    skip_records,
)

pytestmark = pytest.mark.usefixtures("projector")
ZONE = ZoneInfo("Europe/Berlin")
AT = "triggers[0]"


def minute_after(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0) + timedelta(minutes=1)


async def test_three_schedulers_fire_every_slot_once(
    client: AsyncTestClient, admin: dict[str, str], three: list[Services]
) -> None:
    every_minute = {"source": "schedule", "cron": "* * * * *", "parameters": {"TARGET": "arm"}}
    quarter = {"source": "schedule", "cron": "*/15 * * * *", "schedule": "quarterly"}
    off = {"source": "schedule", "cron": "* * * * *", "schedule": "off", "active": False}
    pipeline, _ = await scheduled_pipeline(client, admin, every_minute, quarter, off)
    start = minute_after(datetime.now(UTC))
    clock = Clock(start - timedelta(seconds=1))
    schedulers = Schedulers(three, clock)
    await schedulers.until_seen(pipeline)

    # 90 minutes in uneven steps, so ticks fall before, on and after the slots.
    for i in range(400):
        clock.advance(timedelta(seconds=(7, 13, 19, 1)[i % 4]))
        await schedulers.tick()
    end = clock.now

    runs = await scheduled_runs(three[0], pipeline)
    by_schedule = Counter((r["schedule"], r["slot"]) for r in runs)
    assert all(n == 1 for n in by_schedule.values()), "no slot fired twice"
    minutes = {(start + timedelta(minutes=m)) for m in range(int((end - start).seconds / 60) + 1)}
    expected = {("* * * * * UTC", iso(t)) for t in minutes if t <= end} | {
        ("quarterly", iso(t)) for t in minutes if t <= end and t.minute % 15 == 0
    }
    assert set(by_schedule) == expected, "no slot missed, none invented"
    assert not any(r["schedule"] == "off" for r in runs), "an inactive schedule never fires"
    assert await skip_records(three[0], pipeline) == []
    assert {(r["kind"], r["actor"]) for r in runs} == {("schedule", "scheduler")}
    # Every attempt past the first at a slot wrote nothing.
    written = Counter((f.schedule, iso(f.slot)) for f in schedulers.fired if f.written)
    assert written == by_schedule
    # Each run got its schedule's parameters over the pipeline's defaults.
    assert {r["schedule"]: r["parameters"]["TARGET"] for r in runs} == {
        "* * * * * UTC": "arm",
        "quarterly": "linux",
    }


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def test_berlin_schedules_follow_daylight_saving(
    client: AsyncTestClient, admin: dict[str, str], three: list[Services]
) -> None:
    half_past_two = {"source": "schedule", "cron": "30 2 * * *", "timezone": "Europe/Berlin"}
    hourly = {
        "source": "schedule",
        "cron": "@hourly",
        "timezone": "Europe/Berlin",
        "schedule": "hourly",
    }
    pipeline, _ = await scheduled_pipeline(client, admin, half_past_two, hourly)
    schedulers = Schedulers(three, Clock(datetime(2027, 3, 27, 12, tzinfo=UTC)))
    await schedulers.until_seen(pipeline)
    await schedulers.tick()  # the slots before this moment are stale: skipped
    await schedulers.run(until=datetime(2027, 3, 29, 12, tzinfo=UTC), step=timedelta(minutes=5))
    schedulers.clock.now = datetime(2027, 10, 30, 12, tzinfo=UTC)
    await schedulers.tick()
    await schedulers.run(until=datetime(2027, 11, 1, 0, tzinfo=UTC), step=timedelta(minutes=5))

    runs = await scheduled_runs(three[0], pipeline)
    daily = [r["slot"] for r in runs if r["schedule"] == "30 2 * * * Europe/Berlin"]
    assert daily == [
        "2027-03-28T01:00:00Z",  # 02:30 did not exist that night: 03:00 CEST, as cron does
        "2027-03-29T00:30:00Z",  # 02:30 CEST
        "2027-10-31T00:30:00Z",  # 02:30 CEST: the repeated 02:30 CET does not fire again
    ]
    hourly_slots = [r["slot"] for r in runs if r["schedule"] == "hourly"]
    spring_local_day = [s for s in hourly_slots if "2027-03-27T23" <= s < "2027-03-28T22"]
    assert len(spring_local_day) == 23, "Berlin's 28 March 2027 has 23 hours"
    autumn_local_day = [s for s in hourly_slots if "2027-10-30T22" <= s < "2027-10-31T23"]
    assert len(autumn_local_day) == 25, "Berlin's 31 October 2027 has 25 hours"
    assert len(set(autumn_local_day)) == 25


@pytest.mark.parametrize("policy", ["skip", "last"])
async def test_catch_up_after_downtime(
    client: AsyncTestClient, admin: dict[str, str], three: list[Services], policy: str
) -> None:
    hourly = {"source": "schedule", "cron": "0 * * * *", "catch_up": policy}
    pipeline, _ = await scheduled_pipeline(client, admin, hourly)
    first = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    schedulers = Schedulers(three, Clock(first + timedelta(seconds=20)))
    await schedulers.until_seen(pipeline)
    await schedulers.tick()
    # Down for three hours and a quarter: the slots first+1h .. first+3h pass unseen.
    schedulers.clock.now = first + timedelta(hours=3, minutes=15)
    await schedulers.tick()
    await schedulers.tick()
    schedulers.clock.now = first + timedelta(hours=4, seconds=5)
    await schedulers.tick()

    slots = [r["slot"] for r in await scheduled_runs(three[0], pipeline)]
    late = [iso(first + timedelta(hours=3))] if policy == "last" else []
    assert slots == [iso(first), *late, iso(first + timedelta(hours=4))]
    # The slots that will never run are on record once, with the rule that decided it.
    [skip] = await skip_records(three[0], pipeline)
    last_skipped = first + timedelta(hours=2 if policy == "last" else 3)
    assert (skip["first"], skip["last"]) == (iso(first + timedelta(hours=1)), iso(last_skipped))
    assert (skip["count"], skip["catch_up"], skip["actor"]) == (
        2 if policy == "last" else 3,
        policy,
        "scheduler",
    )
    assert sum(f.written for f in schedulers.skipped) == 1


async def test_a_deactivated_pipeline_fires_nothing(
    client: AsyncTestClient, admin: dict[str, str], three: list[Services]
) -> None:
    pipeline, _ = await scheduled_pipeline(
        client, admin, {"source": "schedule", "cron": "* * * * *"}
    )
    schedulers = Schedulers(three, Clock(minute_after(datetime.now(UTC))))
    await schedulers.until_seen(pipeline)
    response = await client.post(f"/api/v1/pipelines/{pipeline}/deactivate", headers=admin)
    assert response.status_code == 202
    await schedulers.until_seen(pipeline, shown=False)
    await schedulers.run(until=schedulers.clock.now + timedelta(minutes=5), step=timedelta(30))
    assert await scheduled_runs(three[0], pipeline) == []


async def test_the_pipeline_view_shows_next_fire_times(
    client: AsyncTestClient, admin: dict[str, str]
) -> None:
    pipeline, position = await scheduled_pipeline(
        client,
        admin,
        {"source": "schedule", "cron": "0 9 * * 1-5", "timezone": "Europe/Berlin"},
        {"source": "github", "events": ["push"]},
    )
    before = datetime.now(UTC)
    response = await client.get(
        f"/api/v1/pipelines/{pipeline}", params={"min_position": position}, headers=admin
    )
    assert response.status_code == 200, response.text
    [schedule] = response.json()["schedules"]
    fires = [datetime.fromisoformat(t) for t in schedule["next_fires"]]
    assert schedule["schedule"] == "0 9 * * 1-5 Europe/Berlin" and len(fires) == 3
    assert before < fires[0] < fires[1] < fires[2]
    assert all(f.astimezone(ZONE).hour == 9 and f.astimezone(ZONE).weekday() < 5 for f in fires)
    # What GET answered goes back as a new version unchanged: nothing is written.
    again = await client.put(f"/api/v1/pipelines/{pipeline}", json=response.json(), headers=admin)
    assert again.status_code == 202, again.text


@pytest.mark.parametrize(
    ("trigger", "field"),
    [
        ({"source": "schedule", "cron": "61 * * * *"}, "triggers[0].cron"),
        ({"source": "schedule", "cron": "* * * *"}, "triggers[0].cron"),
        ({"source": "schedule", "cron": "* * * * * *"}, "triggers[0].cron"),
        ({"source": "schedule", "cron": "@fortnightly"}, "triggers[0].cron"),
        ({"source": "schedule", "cron": ""}, "triggers[0].cron"),
        ({"source": "schedule", "cron": "@daily", "timezone": "Mars/Olympus"}, f"{AT}.timezone"),
        ({"source": "schedule", "cron": "@daily", "catch_up": "all"}, None),
        ({"source": "schedule", "cron": "@daily", "parameters": {"NOPE": 1}}, f"{AT}.parameters.NOPE"),  # noqa: E501
        ({"source": "schedule", "cron": "@daily", "branches": ["main"]}, "triggers[0].branches"),
        ({"source": "github", "cron": "@daily"}, "triggers[0].cron"),
    ],
)  # fmt: skip
async def test_a_schedule_no_calendar_can_read_is_a_422_naming_the_field(
    client: AsyncTestClient, admin: dict[str, str], trigger: dict, field: str | None
) -> None:
    from tests.integration.api.test_pipelines_api import new_project

    project = await new_project(client, admin)
    body = {
        "project_id": project,
        "name": "bad schedule",
        "parameters": [{"name": "TARGET", "default": "linux"}],
        "steps": [{"name": "build", "run": "make"}],
        "triggers": [trigger],
    }
    response = await client.post("/api/v1/pipelines", json=body, headers=admin)
    assert response.status_code == 422, response.text
    if field is not None:
        assert response.json()["field"] == field, response.json()


async def test_two_schedules_of_one_name_are_refused(
    client: AsyncTestClient, admin: dict[str, str]
) -> None:
    from tests.integration.api.test_pipelines_api import new_project

    project = await new_project(client, admin)
    same = {"source": "schedule", "cron": "@daily"}
    body = {
        "project_id": project,
        "name": "twice",
        "steps": [{"name": "build", "run": "make"}],
        "triggers": [same, {**same, "parameters": {}}],
    }
    response = await client.post("/api/v1/pipelines", json=body, headers=admin)
    assert (response.status_code, response.json()["field"]) == (422, "triggers[1].schedule")
