"""Typed command results: a secret is shown once, and the HTTP answer keeps its shape."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from uuid import uuid4

import msgspec

from adapters.http.commanding import answer_of
from commands.bus import CommandResult
from commands.dispatch import DispatchedJob, JobsDispatched
from commands.outcome import SecretShown, with_secret
from domain.project import Project

AT = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Saved:
    stream_id: str
    to_version: int
    last_position: int
    duplicate: bool


def project() -> Project:
    return Project.create(id=uuid4(), name="p", slug="p", description="", at=AT)


def test_a_secret_is_shown_on_the_first_answer_only() -> None:
    made = project()
    first = Saved(str(made.id), 1, 7, duplicate=False)

    shown = with_secret(made, first, "s3cret")
    replayed = with_secret(made, replace(first, duplicate=True), "s3cret")

    assert (shown.secret, shown.position, shown.duplicate) == ("s3cret", 7, False)
    assert (replayed.secret, replayed.duplicate) == (None, True)


def test_the_http_answer_carries_the_secret_and_nothing_else_of_a_typed_result() -> None:
    secret = SecretShown(id="k", version=1, position=3, secret="tok")
    jobs = JobsDispatched(
        id="r",
        version=4,
        position=9,
        jobs=(DispatchedJob(job_id=uuid4(), step="build", attempt=1, label="linux"),),
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    )

    assert msgspec.json.decode(msgspec.json.encode(answer_of(secret))) == {
        "id": "k",
        "version": 1,
        "position": 3,
        "secret": "tok",
    }
    assert msgspec.json.decode(msgspec.json.encode(answer_of(jobs))) == {
        "id": "r",
        "version": 4,
        "position": 9,
    }
    assert msgspec.json.decode(
        msgspec.json.encode(answer_of(CommandResult(id="x", version=0)))
    ) == {
        "id": "x",
        "version": 0,
    }
