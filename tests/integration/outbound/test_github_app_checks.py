"""Check runs as a GitHub App, against a local GitHub (tests/integration/outbound/
github_app_host.py) that verifies the App's JWT with its public key and checks each request as
GitHub documents it: https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app,
https://docs.github.com/en/rest/apps/apps#create-an-installation-access-token-for-an-app and
https://docs.github.com/en/rest/checks/runs."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest

from adapters.outbound.deliverer import StatusHosts
from adapters.secrets import vault
from commands.commit_statuses import RecordCheckRunRequest, RecordCommitStatusAttempt
from commands.context import CommandContext
from commands.secrets import SetSecret
from domain.commit_status import report_stream_id
from tests.integration.outbound.github_app_host import GitHubApp, github_app, rsa_key
from tests.integration.outbound.test_commit_statuses import attempts, finish, pipeline, webhook_run
from tests.integration.outbound.world import World

pytestmark = pytest.mark.timeout(120)
APP_ID, INSTALLATION = "123456", "987654"
PRIVATE, PUBLIC = rsa_key()


def statuses(app: GitHubApp) -> StatusHosts:
    return StatusHosts(
        reveal=vault.reveal,
        github_api=app.api,
        gitlab_api="http://127.0.0.1:9/api/v4",
        dashboard_url="https://flowledger.example.com",
    )


async def installed(world: World, key: str = PRIVATE) -> str:
    """A project holding a GitHub App installation's secrets (and no GITHUB_TOKEN)."""
    home = await world.project()
    for name, value in (("GITHUB_APP_ID", APP_ID), ("GITHUB_APP_INSTALLATION_ID", INSTALLATION),
                        ("GITHUB_APP_PRIVATE_KEY", key)):  # fmt: skip
        await world.do(SetSecret(project_id=uuid.UUID(home), name=name, value=value))
    return home


async def test_an_app_installation_reports_a_check_run_created_then_updated(world: World) -> None:
    home = await installed(world)
    ci = await pipeline(world, home, "build-and-test")
    with github_app(GitHubApp(APP_ID, INSTALLATION, PUBLIC)) as app:
        async with world.deliverer(statuses(app)):
            run = await webhook_run(world, home, ci, "github", "octo-org/hello-world")
            await attempts(world, run, 1)
            await finish(world, run, "succeeded")
            tried = await attempts(world, run, 3)

    assert app.refused == []
    # One token for the three reports: kept until near its expiry.
    [claims] = app.claims
    assert claims["iss"] == APP_ID and claims["exp"] - claims["iat"] == 540
    [check] = app.check_runs.values()
    assert check.repo == "octo-org/hello-world"
    details = f"https://flowledger.example.com/dashboard/runs/{run}"
    created, started, completed = check.bodies
    assert {
        k: created[k] for k in ("name", "head_sha", "status", "details_url", "external_id")
    } == {
        "name": "flowledger/build-and-test",
        "head_sha": "0123456789abcdef0123456789abcdef01234567",
        "status": "queued",
        "details_url": details,
        "external_id": str(run),
    }
    assert (started["status"], "started_at" in started) == ("in_progress", True)
    assert (completed["status"], completed["conclusion"]) == ("completed", "success")
    assert "name" not in completed and completed["details_url"] == details
    assert [(e.data["state"], e.data["http_status"]) for e in tried] == [
        ("queued", 201),
        ("running", 200),
        ("success", 200),
    ]
    assert PRIVATE not in repr([e.data for e in tried])


async def test_a_restarted_reporter_updates_the_check_run_it_created_before(
    world: World,
) -> None:
    home = await installed(world)
    ci = await pipeline(world, home)
    with github_app(GitHubApp(APP_ID, INSTALLATION, PUBLIC)) as app:
        async with world.deliverer(statuses(app)):
            run = await webhook_run(world, home, ci, "github", "o/r")
            await attempts(world, run, 1)
        # A new deliverer process: nothing of the first one's memory.
        async with world.deliverer(statuses(app)):
            await finish(world, run, "succeeded")
            tried = await attempts(world, run, 3)

    [check] = app.check_runs.values()
    assert [body["status"] for body in check.bodies] == ["queued", "in_progress", "completed"]
    assert [e.data["http_status"] for e in tried] == [201, 200, 200]
    events = await world.services.store.read_stream(str(report_stream_id(run)))
    recorded = [e.data for e in events if e.type == "CommitStatusCheckRunCreated"]
    assert recorded == [{"check_run_id": check.id, "occurred_at": recorded[0]["occurred_at"]}]
    # The request recorded before it was sent; the id before the attempt whose answer gave it.
    assert [e.type for e in events][1:4] == [
        "CommitStatusCheckRunRequested",
        "CommitStatusCheckRunCreated",
        "CommitStatusAttempted",
    ]
    assert app.listed == []  # the id was recorded: no need to look for it


@dataclass
class FaultyDispatch:
    """A dispatch for a deliverer that stops dead, and the event set once it has."""

    dispatch: Callable[[object, CommandContext], Awaitable[object]]
    reached: asyncio.Event


def gone_at(world: World, point: Callable[[object], bool], *, records_it: bool) -> FaultyDispatch:
    """The bus, but a deliverer stops dead at the first command `point` picks, after recording
    it or not: what a process killed there would leave (nothing after it is sent or recorded)."""
    reached = asyncio.Event()

    async def dispatch(command: object, context: CommandContext) -> object:
        if not reached.is_set() and point(command):
            if records_it:
                await world.services.bus.dispatch(command, context)
            reached.set()
            await asyncio.Event().wait()  # until the deliverer is stopped
        return await world.services.bus.dispatch(command, context)

    return FaultyDispatch(dispatch, reached)


def check_run_learnt(command: object) -> bool:
    """The record of the id GitHub's 201 gave."""
    return isinstance(command, RecordCommitStatusAttempt) and command.check_run_id is not None


async def test_a_reporter_gone_between_githubs_201_and_its_record_adopts_that_check_run(
    world: World,
) -> None:
    home = await installed(world)
    ci = await pipeline(world, home)
    gone = gone_at(world, check_run_learnt, records_it=False)
    with github_app(GitHubApp(APP_ID, INSTALLATION, PUBLIC)) as app:
        async with world.deliverer(statuses(app), gone.dispatch):
            run = await webhook_run(world, home, ci, "github", "o/r")
            await asyncio.wait_for(gone.reached.wait(), 30)
        [check] = app.check_runs.values()
        events = await world.services.store.read_stream(str(report_stream_id(run)))
        assert [e.type for e in events] == [
            "CommitStatusReportOpened",
            "CommitStatusCheckRunRequested",
        ]
        # A new deliverer: the run goes on, and its reports find the check run GitHub made.
        async with world.deliverer(statuses(app)):
            await finish(world, run, "succeeded")
            tried = await attempts(world, run, 2)

    assert list(app.check_runs) == [check.id]
    assert [body["status"] for body in check.bodies] == ["queued", "in_progress", "completed"]
    assert [(e.data["state"], e.data["http_status"]) for e in tried] == [
        ("running", 200),
        ("success", 200),
    ]
    events = await world.services.store.read_stream(str(report_stream_id(run)))
    requested = events[1].data
    assert {k: requested[k] for k in ("name", "external_id", "state")} == {
        "name": "flowledger/ci",
        "external_id": str(run),
        "state": "queued",
    }
    adopted = [e.data["check_run_id"] for e in events if e.type == "CommitStatusCheckRunCreated"]
    assert adopted == [check.id]
    # Looked up once, by its name on its commit, among this App's check runs.
    [query] = app.listed
    assert (query["check_name"], query["filter"], query["app_id"]) == (
        ["flowledger/ci"],
        ["all"],
        [APP_ID],
    )


async def test_a_request_github_never_got_is_sent_on_the_next_report(world: World) -> None:
    home = await installed(world)
    ci = await pipeline(world, home)
    gone = gone_at(world, lambda c: isinstance(c, RecordCheckRunRequest), records_it=True)
    with github_app(GitHubApp(APP_ID, INSTALLATION, PUBLIC)) as app:
        async with world.deliverer(statuses(app), gone.dispatch):
            run = await webhook_run(world, home, ci, "github", "o/r")
            await asyncio.wait_for(gone.reached.wait(), 30)
        assert app.check_runs == {}
        async with world.deliverer(statuses(app)):
            await finish(world, run, "succeeded")
            tried = await attempts(world, run, 2)

    [check] = app.check_runs.values()
    assert check.bodies[0]["external_id"] == str(run)
    assert [body["status"] for body in check.bodies] == ["in_progress", "completed"]
    assert [(e.data["state"], e.data["http_status"]) for e in tried] == [
        ("running", 201),
        ("success", 200),
    ]
    assert len(app.listed) == 1
    events = await world.services.store.read_stream(str(report_stream_id(run)))
    # One request recorded: the second creation asked for the same external id.
    assert [e.type for e in events].count("CommitStatusCheckRunRequested") == 1


async def test_a_token_near_its_expiry_is_exchanged_again(world: World) -> None:
    home = await installed(world)
    ci = await pipeline(world, home)
    # Valid for four minutes: less than the five kept in reserve, so never reused.
    with github_app(GitHubApp(APP_ID, INSTALLATION, PUBLIC, token_lifetime_s=240)) as app:
        async with world.deliverer(statuses(app)):
            run = await webhook_run(world, home, ci, "github", "o/r")
            await attempts(world, run, 1)
            await finish(world, run, "failed")
            tried = await attempts(world, run, 3)

    assert len(app.claims) == 3
    [check] = app.check_runs.values()
    assert check.bodies[-1]["conclusion"] == "failure"
    assert [e.data["http_status"] for e in tried] == [201, 200, 200]


async def test_a_key_github_does_not_know_or_no_key_at_all_is_recorded_and_not_retried(
    world: World,
) -> None:
    other_private, _ = rsa_key()
    cases = [(other_private, 401, "installation token: "), ("not a key", None, "not an RSA PEM")]
    with github_app(GitHubApp(APP_ID, INSTALLATION, PUBLIC)) as app:
        async with world.deliverer(statuses(app)):
            for key, status, error in cases:
                home = await installed(world, key)
                run = await webhook_run(world, home, await pipeline(world, home), "github", "o/r")
                [tried] = await attempts(world, run, 1)
                await asyncio.sleep(1.0)  # a retry would come within the back-off's first wait
                assert len(await attempts(world, run, 1)) == 1
                assert tried.data["http_status"] == status
                assert error in tried.data["error"]
                assert key not in tried.data["error"]
    assert app.check_runs == {}
    assert [status for status, _ in app.refused] == [401]
