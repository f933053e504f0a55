"""Commit reports as a GitHub App: its installation token (the check runs are in check_runs.py).

A project whose secrets hold `GITHUB_APP_ID`, `GITHUB_APP_INSTALLATION_ID` and
`GITHUB_APP_PRIVATE_KEY` (the App's PEM key) reports with check runs instead of commit
statuses, as documented:

- the App authenticates with a JWT it signs RS256 with its private key, `iat` 60 s in the
  past, `exp` at most 10 minutes ahead, `iss` the App id
  (https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app);
- it trades the JWT for an installation access token at
  `POST /app/installations/{installation_id}/access_tokens`, answered 201 with `token` and
  `expires_at` (one hour)
  (https://docs.github.com/en/rest/apps/apps#create-an-installation-access-token-for-an-app);
  the token is kept in memory until five minutes before it expires;
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx
import jwt

from adapters.statuses.hosts import GITHUB_API_VERSION, USER_AGENT

BAD_KEY = "GITHUB_APP_PRIVATE_KEY is not an RSA PEM key"
"""An attempt's error that no retry can mend."""
APP_SECRETS = ("GITHUB_APP_ID", "GITHUB_APP_INSTALLATION_ID", "GITHUB_APP_PRIVATE_KEY")
"""The project secrets of a GitHub App installation, in this order."""
JWT_BACKDATE_S = 60
"""`iat` this far in the past, against clock drift (GitHub's advice)."""
JWT_LIFETIME_S = 540
"""`exp` past `iat`: GitHub takes at most 600."""
REFRESH_BEFORE_S = 300.0
"""An installation token is exchanged again this long before it expires."""


class AppAuthFailed(Exception):
    """The installation token could not be had; `status` is GitHub's answer, if any."""

    def __init__(self, status: int | None, message: str) -> None:
        self.status = status
        super().__init__(message)


@dataclass(frozen=True)
class AppCredentials:
    api_url: str
    app_id: str
    installation_id: str
    private_key: str

    def __repr__(self) -> str:
        return f"AppCredentials(app_id={self.app_id!r}, installation_id={self.installation_id!r})"


def app_jwt(app_id: str, private_key: str, now: float) -> str:
    """The App's JWT: RS256, issued 60 s ago, expiring 9 minutes from then, issuer its id."""
    issued = int(now) - JWT_BACKDATE_S
    claims = {"iat": issued, "exp": issued + JWT_LIFETIME_S, "iss": app_id}
    try:
        return jwt.encode(claims, private_key, algorithm="RS256")
    except (ValueError, TypeError, jwt.PyJWTError) as error:
        # Never the key itself in the message: it is recorded as the attempt's error.
        raise AppAuthFailed(None, f"{BAD_KEY} ({type(error).__name__})") from error


def headers(token: str) -> dict[str, str]:
    return {
        "Accept": "application/vnd.github+json",
        "Authorization": f"Bearer {token}",
        "X-GitHub-Api-Version": GITHUB_API_VERSION,
        "User-Agent": USER_AGENT,
    }


async def installation(
    reveal: Callable[[Any, str, str], Awaitable[Any]],
    pool: Any,
    project_id: UUID,
    api_urls: Mapping[str, str],
) -> AppCredentials | None:
    """The project's GitHub App installation, when it holds all three of its secrets."""
    values = []
    for name in APP_SECRETS:
        secret = await reveal(pool, str(project_id), name)
        if secret is None:
            return None
        values.append(secret.value)
    app_id, installation_id, private_key = values
    return AppCredentials(api_urls["github"], app_id, installation_id, private_key)


class InstallationTokens:
    """Installation tokens by App installation, exchanged when missing or nearly expired."""

    def __init__(self, client: httpx.AsyncClient, clock: Callable[[], float] = time.time) -> None:
        self._client, self._clock = client, clock
        self._tokens: dict[tuple[str, str, str], tuple[str, float]] = {}

    async def token(self, app: AppCredentials) -> str:
        key = (app.api_url, app.app_id, app.installation_id)
        now = self._clock()
        held = self._tokens.get(key)
        if held is not None and held[1] - now > REFRESH_BEFORE_S:
            return held[0]
        url = (
            f"{app.api_url.rstrip('/')}/app/installations/"
            f"{quote(app.installation_id, safe='')}/access_tokens"
        )
        try:
            answer = await self._client.post(
                url, headers=headers(app_jwt(app.app_id, app.private_key, now))
            )
        except httpx.HTTPError as error:
            raise AppAuthFailed(
                None, f"installation token: {type(error).__name__}: {error}"
            ) from error
        if answer.status_code != 201:
            raise AppAuthFailed(answer.status_code, f"installation token: {answer.text[:300]}")
        body = answer.json()
        expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
        self._tokens[key] = (body["token"], expires.astimezone(UTC).timestamp())
        return str(body["token"])
