"""Specs for the Runner aggregate: registered, re-registered, lost and deregistered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from specs import Spec

from domain.errors import InvalidValue, RunnerNotActive
from domain.registry import Registry
from domain.runner import Runner, RunnerStatus, runner_id_for

REGISTRY = Registry(Runner)
NAME = "build-box-1"
ID = runner_id_for(NAME)
PROJECT = UUID("0195f1d0-0000-7000-8000-0000000000c1")
T0 = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def registered(**overrides: Any) -> tuple[str, dict[str, Any]]:
    data = {
        "name": NAME,
        "labels": ("linux", "docker"),
        "host": "box1.example",
        "version": "0.1.0",
        "concurrency": 2,
        "project_id": None,
        "occurred_at": T0,
    }
    return "RunnerRegistered", data | overrides


REGISTERED = registered()
LOST = (
    "RunnerLost",
    {"last_seen": at(5), "reason": "no heartbeat for 30 s", "occurred_at": at(40)},
)
DEREGISTERED = ("RunnerDeregistered", {"occurred_at": at(50)})


def spec() -> Spec[Runner]:
    return Spec(Runner, ID, registry=REGISTRY)


def register(**overrides: Any):
    args = {
        "name": f" {NAME} ",
        "labels": ["linux", "docker", "linux"],
        "host": "box1.example",
        "version": "0.1.0",
        "concurrency": 2,
        "project_id": None,
        "at": T0,
    } | overrides
    return lambda _: Runner.register(**args)


def test_registering_records_the_runner_under_an_id_derived_from_its_name() -> None:
    runner = spec().given().when(register()).then(REGISTERED)
    assert runner.id == ID == runner_id_for(NAME)
    assert (runner.status, runner.labels, runner.concurrency) == (
        RunnerStatus.ACTIVE,
        ("linux", "docker"),
        2,
    )
    assert runner.runner_version == "0.1.0"


def test_a_runner_may_be_bound_to_one_project() -> None:
    runner = spec().given().when(register(project_id=PROJECT)).then(registered(project_id=PROJECT))
    assert runner.project_id == PROJECT


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": "  "}, "name"),
        ({"labels": []}, "labels"),
        ({"labels": "linux"}, "labels"),
        ({"labels": ["has space"]}, "labels"),
        ({"labels": [f"l{i}" for i in range(21)]}, "labels"),
        ({"concurrency": 0}, "concurrency"),
        ({"concurrency": 257}, "concurrency"),
        ({"concurrency": True}, "concurrency"),
        ({"host": ""}, "host"),
        ({"version": "v" * 101}, "version"),
    ],
)
def test_registering_with_bad_details_is_refused(overrides: dict[str, Any], field: str) -> None:
    spec().given().when(register(**overrides)).then_raises(InvalidValue, field=field)


def reregister(**overrides: Any):
    args = {
        "labels": ["gpu"],
        "host": "box2.example",
        "version": "0.2.0",
        "concurrency": 4,
        "at": at(60),
    } | overrides
    return lambda r: r.reregister(**args)


REREGISTERED = (
    "RunnerReregistered",
    {
        "labels": ("gpu",),
        "host": "box2.example",
        "version": "0.2.0",
        "concurrency": 4,
        "occurred_at": at(60),
    },
)


@pytest.mark.parametrize(
    ("history", "previous"),
    [
        ([REGISTERED], "active"),
        ([REGISTERED, LOST], "lost"),
        ([REGISTERED, DEREGISTERED], "offline"),
    ],
)
def test_registering_again_is_always_recorded_and_makes_the_runner_active(
    history: list, previous: str
) -> None:
    name, data = REREGISTERED
    runner = (
        spec()
        .given(*history)
        .when(reregister())
        .then((name, {**data, "previous_status": previous}))
    )
    assert (runner.status, runner.labels, runner.host) == (
        RunnerStatus.ACTIVE,
        ("gpu",),
        "box2.example",
    )


def test_an_active_runner_that_stops_heartbeating_is_marked_lost() -> None:
    runner = (
        spec()
        .given(REGISTERED)
        .when(lambda r: r.mark_lost(last_seen=at(5), reason=" no heartbeat for 30 s", at=at(40)))
        .then(LOST)
    )
    assert runner.status is RunnerStatus.LOST


@pytest.mark.parametrize("history", [[REGISTERED, LOST], [REGISTERED, DEREGISTERED]])
def test_marking_a_runner_lost_that_is_not_active_decides_nothing(history: list) -> None:
    spec().given(*history).when(
        lambda r: r.mark_lost(last_seen=None, reason="again", at=at(70))
    ).then()


def test_deregistering_takes_a_runner_offline_once() -> None:
    runner = spec().given(REGISTERED).when(lambda r: r.deregister(at=at(50))).then(DEREGISTERED)
    assert runner.status is RunnerStatus.OFFLINE
    spec().given(REGISTERED, DEREGISTERED).when(lambda r: r.deregister(at=at(51))).then()


def test_a_lost_runner_may_deregister() -> None:
    spec().given(REGISTERED, LOST).when(lambda r: r.deregister(at=at(50))).then(DEREGISTERED)


@pytest.mark.parametrize(("history", "status"), [([LOST], "lost"), ([DEREGISTERED], "offline")])
def test_only_an_active_runner_is_taken_as_alive(history: list, status: str) -> None:
    runner = spec().given(REGISTERED, *history).state
    assert runner is not None
    with pytest.raises(RunnerNotActive) as refused:
        runner.require_active()
    assert refused.value.status == status
    active = spec().given(REGISTERED).state
    assert active is not None
    active.require_active()


def test_a_naive_moment_is_refused() -> None:
    spec().given().when(register(at=datetime(2025, 3, 1))).then_raises(InvalidValue, field="at")
