"""Finding a check run by its external id (GitHub's "List check runs for a Git reference",
https://docs.github.com/en/rest/checks/runs#list-check-runs-for-a-git-reference), against the
local GitHub of github_app_host.py: across pages, and never creating one when the list fails."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import pytest_asyncio

from adapters.statuses.check_runs import CheckRuns, RecordedCheckRun, external_id
from adapters.statuses.github_app import AppCredentials, InstallationTokens
from tests.integration.outbound.github_app_host import CheckRun, GitHubApp, github_app, rsa_key

APP_ID, INSTALLATION = "4242", "77"
PRIVATE, PUBLIC = rsa_key()
SHA = "0123456789abcdef0123456789abcdef01234567"
NAME = "flowledger/ci"
RUN = uuid.uuid4()


@pytest.fixture
def app() -> Iterator[GitHubApp]:
    with github_app(GitHubApp(APP_ID, INSTALLATION, PUBLIC)) as running:
        yield running


@pytest_asyncio.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as opened:
        yield opened


def made_before(app: GitHubApp, external: str, count: int) -> None:
    """`count` check runs named NAME on SHA: re-runs of other runs, then the one of `external`."""
    for n in range(1, count + 1):
        tag = external if n == count else str(uuid.uuid4())
        body = {"name": NAME, "head_sha": SHA, "external_id": tag, "status": "queued"}
        app.check_runs[n] = CheckRun(n, "o/r", [body], APP_ID)


async def requested_only(_run_id: uuid.UUID, _step: str | None) -> RecordedCheckRun:
    return RecordedCheckRun(requested=external_id(RUN, None))


async def never(_external: str) -> None:
    raise AssertionError("a check run was asked for again")


async def report(app: GitHubApp, client: httpx.AsyncClient) -> tuple[CheckRuns, int | None, str]:
    checks = CheckRuns(client, InstallationTokens(client), requested_only)
    status, error = await checks.report(
        AppCredentials(app.api, APP_ID, INSTALLATION, PRIVATE),
        run_id=RUN, repo="o/r", sha=SHA, name=NAME, state="running",
        details_url="https://flowledger.example.com/dashboard/runs/x", intend=never,
    )  # fmt: skip
    return checks, status, error


async def test_the_check_run_is_found_on_a_later_page(
    app: GitHubApp, client: httpx.AsyncClient
) -> None:
    made_before(app, str(RUN), 130)
    checks, status, error = await report(app, client)
    assert (status, error) == (200, "")
    assert len(app.check_runs) == 130
    assert [body["status"] for body in app.check_runs[130].bodies] == ["queued", "in_progress"]
    assert checks.created(RUN, None) == 130  # to be recorded with the attempt
    assert [query.get("page", ["1"]) for query in app.listed] == [["1"], ["2"]]


async def test_a_listing_that_fails_is_the_attempts_answer_and_creates_nothing(
    app: GitHubApp, client: httpx.AsyncClient
) -> None:
    app.listing_down = True
    checks, status, error = await report(app, client)
    assert status == 503 and error.startswith("listing check runs: ")
    assert app.check_runs == {}
    assert checks.created(RUN, None) is None
