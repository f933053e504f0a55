"""Specs for external runs: their status as reported by GitHub Actions, GitLab or Jenkins."""

from __future__ import annotations

import pytest
from run_facts import RUN_IN, at, requested, run_event, spec

from domain.errors import IllegalTransition, InvalidValue, RunKindMismatch
from domain.run_statuses import Provider, RunStatus
from domain.run_values import ExternalRef

JENKINS = ExternalRef(
    provider=Provider.JENKINS, external_id="web/main#812", url="https://ci.acme.dev/job/web/812/"
)
REQUESTED = requested(external=JENKINS)
STARTED = run_event("RunStarted", 1)
CANCEL_ASKED = run_event("RunCancelRequested", 2, actor="bob", reason="")
EXTERNAL_IN: dict[str, list] = {
    "queued": [REQUESTED],
    "running": [REQUESTED, STARTED],
    "cancelling": [REQUESTED, STARTED, CANCEL_ASKED],
    "succeeded": [REQUESTED, STARTED, run_event("RunSucceeded", 2)],
    "failed": [
        REQUESTED,
        STARTED,
        run_event("RunFailed", 2, reason="failed in jenkins", step=None),
    ],
    "cancelled": [REQUESTED, CANCEL_ASKED, run_event("RunCancelled", 2)],
    "timed_out": [REQUESTED, run_event("RunTimedOut", 2)],
}


def report(status: str, detail: str = ""):
    return lambda r: r.report_external_status(status, detail=detail, at=at(5))


def e(name: str, **data: object) -> tuple:
    return run_event(name, 5, **data)


@pytest.mark.parametrize(
    ("current", "reported", "events"),
    [
        ("queued", "running", [e("RunStarted")]),
        ("queued", "succeeded", [e("RunStarted"), e("RunSucceeded")]),
        ("queued", "failed", [e("RunStarted"), e("RunFailed", reason="build broke", step=None)]),
        (
            "queued",
            "cancelled",
            [e("RunCancelRequested", actor="jenkins", reason="build broke"), e("RunCancelled")],
        ),
        ("queued", "timed_out", [e("RunTimedOut")]),
        ("running", "succeeded", [e("RunSucceeded")]),
        ("running", "failed", [e("RunFailed", reason="build broke", step=None)]),
        (
            "running",
            "cancelled",
            [e("RunCancelRequested", actor="jenkins", reason="build broke"), e("RunCancelled")],
        ),
        ("running", "timed_out", [e("RunTimedOut")]),
        ("cancelling", "cancelled", [e("RunCancelled")]),
        ("cancelling", "succeeded", [e("RunSucceeded")]),
        ("cancelling", "failed", [e("RunFailed", reason="build broke", step=None)]),
        ("cancelling", "timed_out", [e("RunTimedOut")]),
    ],
)
def test_a_reported_status_is_reached_through_the_legal_transitions(
    current: str, reported: str, events: list
) -> None:
    run = spec().given(*EXTERNAL_IN[current]).when(report(reported, " build broke ")).then(*events)
    assert run.status == reported


def test_a_failure_without_detail_names_the_provider() -> None:
    spec().given(*EXTERNAL_IN["running"]).when(report("failed")).then(
        e("RunFailed", reason="failed in jenkins", step=None)
    )


@pytest.mark.parametrize("status", [s for s in EXTERNAL_IN if s != "cancelling"])
def test_a_redelivered_status_decides_nothing(status: str) -> None:
    spec().given(*EXTERNAL_IN[status]).when(report(status)).then()


def test_running_reported_while_a_cancel_is_pending_decides_nothing() -> None:
    spec().given(*EXTERNAL_IN["cancelling"]).when(report("running")).then()


ILLEGAL = [("running", "queued"), ("cancelling", "queued")] + [
    (finished, other)
    for finished in ("succeeded", "failed", "cancelled", "timed_out")
    for other in EXTERNAL_IN
    if other not in (finished, "cancelling")
]


@pytest.mark.parametrize(("current", "reported"), ILLEGAL)
def test_a_status_the_run_cannot_reach_is_an_illegal_transition(
    current: str, reported: str
) -> None:
    spec().given(*EXTERNAL_IN[current]).when(report(reported)).then_raises(
        IllegalTransition, current_state=current, attempted=f"report {reported} for"
    )


def test_an_unknown_status_is_refused() -> None:
    spec().given(*EXTERNAL_IN["running"]).when(report("paused")).then_raises(
        InvalidValue, field="status"
    )


def test_an_internal_run_takes_no_external_status() -> None:
    spec().given(*RUN_IN["running"]).when(report("succeeded")).then_raises(
        RunKindMismatch, run_kind="internal"
    )


def test_cancelling_an_external_run_waits_for_the_outside_to_confirm() -> None:
    run = (
        spec()
        .given(*EXTERNAL_IN["running"])
        .when(lambda r: r.request_cancel(actor="bob", at=at(5)))
        .then(e("RunCancelRequested", actor="bob", reason=""))
    )
    assert run.status is RunStatus.CANCELLING


def test_an_external_run_can_be_timed_out_here() -> None:
    spec().given(*EXTERNAL_IN["running"]).when(lambda r: r.time_out(at=at(5))).then(
        e("RunTimedOut")
    )
