"""The requests of the Git hosts' commit status APIs, exactly as documented.

GitHub: `POST /repos/{owner}/{repo}/statuses/{sha}`
(https://docs.github.com/en/rest/commits/statuses#create-a-commit-status): states `error`,
`failure`, `pending`, `success`; `Accept: application/vnd.github+json`, `Authorization: Bearer`,
`X-GitHub-Api-Version: 2022-11-28` and a `User-Agent`.

GitLab: `POST /projects/:id/statuses/:sha`
(https://docs.gitlab.com/ee/api/commits.html#set-the-pipeline-status-of-a-commit), `:id` the
URL-encoded project path; states `pending`, `running`, `success`, `failed`, `canceled`;
`PRIVATE-TOKEN` header.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import version
from typing import Any
from urllib.parse import quote

USER_AGENT = f"flowledger/{version('flowledger')}"
GITHUB_API_VERSION = "2022-11-28"
TOKEN_SECRETS = {"github": "GITHUB_TOKEN", "gitlab": "GITLAB_TOKEN"}
"""The project secret holding each host's token."""
DESCRIPTIONS = {
    "queued": "Queued",
    "running": "Running",
    "success": "Succeeded",
    "failure": "Failed",
    "cancelled": "Cancelled",
}
GITHUB_STATES = {
    "queued": "pending",
    "running": "pending",
    "success": "success",
    "failure": "failure",
    "cancelled": "error",
}
GITLAB_STATES = {
    "queued": "pending",
    "running": "running",
    "success": "success",
    "failure": "failed",
    "cancelled": "canceled",
}


@dataclass(frozen=True)
class StatusRequest:
    url: str
    headers: dict[str, str]
    body: dict[str, Any]


def github(
    api_url: str, repo: str, sha: str, state: str, token: str, target_url: str, context: str
) -> StatusRequest:
    owner, _, name = repo.partition("/")
    return StatusRequest(
        url=f"{api_url.rstrip('/')}/repos/{quote(owner, safe='')}/{quote(name, safe='')}"
        f"/statuses/{quote(sha, safe='')}",
        headers={
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {token}",
            "X-GitHub-Api-Version": GITHUB_API_VERSION,
            "User-Agent": USER_AGENT,
        },
        body={
            "state": GITHUB_STATES[state],
            "target_url": target_url,
            "description": DESCRIPTIONS[state],
            "context": context,
        },
    )


def gitlab(
    api_url: str,
    repo: str,
    sha: str,
    state: str,
    token: str,
    target_url: str,
    context: str,
    ref: str | None,
) -> StatusRequest:
    body: dict[str, Any] = {
        "state": GITLAB_STATES[state],
        "name": context,
        "target_url": target_url,
        "description": DESCRIPTIONS[state],
    }
    if ref:
        body["ref"] = ref.removeprefix("refs/heads/").removeprefix("refs/tags/")
    return StatusRequest(
        url=f"{api_url.rstrip('/')}/projects/{quote(repo, safe='')}/statuses/{quote(sha, safe='')}",
        headers={"PRIVATE-TOKEN": token, "User-Agent": USER_AGENT},
        body=body,
    )
