"""Commit reports as GitHub check runs, one per flowledger run (and per step, when its steps
report), as documented at https://docs.github.com/en/rest/checks/runs:

- `POST /repos/{owner}/{repo}/check-runs` creates a check run (`name`, `head_sha`, `status`,
  `details_url`, `external_id`, ...) and answers 201 with its `id`;
- `PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}` moves it on, to `completed` with a
  `conclusion`;
- `GET /repos/{owner}/{repo}/commits/{ref}/check-runs` ("List check runs for a Git
  reference": `check_name`, `filter=all`, `app_id`, `per_page` up to 100, further pages in the
  `Link` header) answers 200 `{"total_count", "check_runs": [{"id", "external_id", ...}]}`.

Creating is not idempotent at GitHub, so a creation goes in three steps: the request is
recorded first (its `external_id`, `<run id>[/<step>]`), then sent, then GitHub's id is recorded
with the attempt. A reporter gone between GitHub's 201 and that record finds, on its next
report, a request without an id: it looks the check run up by its external id and adopts it,
creating one only when GitHub has none.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from adapters.statuses.github_app import AppAuthFailed, AppCredentials, InstallationTokens, headers
from adapters.statuses.hosts import DESCRIPTIONS

CHECK_STATUS = {"queued": "queued", "running": "in_progress"}
CHECK_CONCLUSION = {"success": "success", "failure": "failure", "cancelled": "cancelled"}
PER_PAGE = 100
"""GitHub's largest page of check runs."""


@dataclass(frozen=True)
class RecordedCheckRun:
    """What a report's stream holds of its check run."""

    check_run_id: int | None = None
    requested: str | None = None
    """The external id of the check run asked for, whether or not its id was recorded."""


Recall = Callable[[UUID, str | None], Awaitable[RecordedCheckRun]]
"""What is recorded of the check run of (a run, its step or None)."""
Intend = Callable[[str], Awaitable[object]]
"""Records the request for a check run tagged with this external id, before it is sent."""


async def _nothing_recorded(_run_id: UUID, _step: str | None) -> RecordedCheckRun:
    return RecordedCheckRun()


class LookupFailed(Exception):
    """GitHub did not list the commit's check runs; `status` is its answer, if any."""

    def __init__(self, status: int | None, message: str) -> None:
        self.status = status
        super().__init__(message)


def external_id(run_id: UUID, step: str | None) -> str:
    return str(run_id) if step is None else f"{run_id}/{step}"


class CheckRuns:
    """One check run per flowledger run: created at its first report, then updated.

    A report whose id is not in memory (after a restart) asks `recall` for it, so it updates
    that check run instead of creating another; a request recorded without an id is looked up
    at GitHub by its external id (see the module's doc)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        tokens: InstallationTokens,
        recall: Recall = _nothing_recorded,
    ) -> None:
        self._client, self._tokens, self._recall = client, tokens, recall
        self.ids: dict[tuple[UUID, str | None], int] = {}
        """(flowledger run, step or None) -> GitHub check run id, as recorded."""
        self._created: dict[tuple[UUID, str | None], int] = {}

    def forget(self, run_id: UUID) -> None:
        for key in [key for key in self.ids if key[0] == run_id]:
            del self.ids[key]

    def created(self, run_id: UUID, step: str | None) -> int | None:
        """The id of the check run the last report of (run, step) created or found, once: to
        record."""
        return self._created.pop((run_id, step), None)

    async def report(
        self,
        app: AppCredentials,
        *,
        run_id: UUID,
        step: str | None = None,
        repo: str,
        sha: str,
        name: str,
        state: str,
        details_url: str,
        intend: Intend,
    ) -> tuple[int | None, str]:
        """(GitHub's HTTP status or None, the error text): as a commit status attempt records."""
        try:
            token = await self._tokens.token(app)
        except AppAuthFailed as error:
            return error.status, str(error)
        owner, _, project = repo.partition("/")
        repo_url = (
            f"{app.api_url.rstrip('/')}/repos/{quote(owner, safe='')}/{quote(project, safe='')}"
        )
        base = f"{repo_url}/check-runs"
        body = check_run_body(state, details_url, at=datetime.now(UTC))
        key, external = (run_id, step), external_id(run_id, step)
        try:
            existing = self.ids.get(key)
            if existing is None:
                existing = await self._recorded_or_found(app, token, key, repo_url, sha, name)
            if existing is None:
                await intend(external)
                body = {"name": name, "head_sha": sha, "external_id": external, **body}
                answer = await self._client.post(base, json=body, headers=headers(token))
            else:
                answer = await self._client.patch(
                    f"{base}/{existing}", json=body, headers=headers(token)
                )
        except httpx.HTTPError as error:
            return None, f"{type(error).__name__}: {error}"[:500]
        except LookupFailed as error:
            return error.status, str(error)[:500]
        if existing is None and answer.status_code == 201:
            self.ids[key] = self._created[key] = int(answer.json()["id"])
        ok = 200 <= answer.status_code < 300
        return answer.status_code, "" if ok else answer.text[:500]

    async def _recorded_or_found(
        self,
        app: AppCredentials,
        token: str,
        key: tuple[UUID, str | None],
        repo_url: str,
        sha: str,
        name: str,
    ) -> int | None:
        """The check run recorded for `key`, or the one a recorded request created unrecorded."""
        recorded = await self._recall(*key)
        found = recorded.check_run_id
        if found is None and recorded.requested is not None:
            found = await self._find(app, token, repo_url, sha, name, recorded.requested)
            if found is not None:
                self._created[key] = found  # recorded with this attempt, as a creation is
        if found is not None:
            self.ids[key] = found
        return found

    async def _find(
        self, app: AppCredentials, token: str, repo_url: str, sha: str, name: str, external: str
    ) -> int | None:
        """The commit's check run named `name` and tagged `external`, if GitHub has one (the
        oldest, should there be more)."""
        params: dict[str, str | int] | None = {
            "check_name": name,
            "filter": "all",
            "per_page": PER_PAGE,
        }
        if app.app_id.isdigit():
            params["app_id"] = app.app_id  # only this App's check runs
        url: str | None = f"{repo_url}/commits/{quote(sha, safe='')}/check-runs"
        found: list[int] = []
        while url is not None:
            answer = await self._client.get(url, params=params, headers=headers(token))
            if answer.status_code != 200:
                raise LookupFailed(answer.status_code, f"listing check runs: {answer.text[:400]}")
            runs = answer.json().get("check_runs") or []
            found += [int(run["id"]) for run in runs if run.get("external_id") == external]
            url, params = answer.links.get("next", {}).get("url"), None  # the link has them
        return min(found, default=None)


def check_run_body(state: str, details_url: str, *, at: datetime) -> dict[str, Any]:
    """The check run's fields for a run `state` (queued, running, success, failure, cancelled)."""
    moment = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    output = {"title": DESCRIPTIONS[state], "summary": f"flowledger run: {DESCRIPTIONS[state]}"}
    body: dict[str, Any] = {"details_url": details_url, "output": output}
    if state in CHECK_STATUS:
        body["status"] = CHECK_STATUS[state]
        if state == "running":
            body["started_at"] = moment
    else:
        body |= {
            "status": "completed",
            "conclusion": CHECK_CONCLUSION[state],
            "completed_at": moment,
        }
    return body
