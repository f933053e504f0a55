"""A report's check run request: recorded once per external id, for GitHub only, with the
fields an auditor reads (what was asked for, on which commit, reporting which state)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from domain.commit_status import CHECK_NAME_MAX, CommitStatusReport
from domain.errors import InvalidValue

AT = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def report(host: str = "github") -> CommitStatusReport:
    return CommitStatusReport.open(
        run_id=uuid.uuid4(), project_id=uuid.uuid4(), host=host, repo="o/r", sha="abc", at=AT
    )


def test_a_request_is_recorded_once_per_external_id() -> None:
    opened = report()
    external = str(opened.run_id)
    for state in ("queued", "running"):
        opened.check_run_requested_as(
            name="flowledger/ci", external_id=external, state=state, at=AT
        )
    events = opened.collect_events()
    requested = [e for e in events if isinstance(e, CommitStatusReport.CheckRunRequested)]
    assert [(e.name, e.external_id, e.state) for e in requested] == [
        ("flowledger/ci", external, "queued")
    ]
    assert opened.check_run_requested == external


@pytest.mark.parametrize(
    ("host", "name", "external_id", "state"),
    [
        ("gitlab", "flowledger/ci", "x", "queued"),
        ("github", "", "x", "queued"),
        ("github", "n" * (CHECK_NAME_MAX + 1), "x", "queued"),
        ("github", "flowledger/ci", "", "queued"),
        ("github", "flowledger/ci", "x", "pending"),
    ],
)
def test_a_request_out_of_bounds_is_refused(
    host: str, name: str, external_id: str, state: str
) -> None:
    with pytest.raises(InvalidValue):
        report(host).check_run_requested_as(name=name, external_id=external_id, state=state, at=AT)
