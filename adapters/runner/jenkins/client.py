"""Jenkins' remote access API, the few calls a jenkins step makes.

Documented at https://www.jenkins.io/doc/book/using/remote-access-api/ (triggering builds with
`build` / `buildWithParameters`, the queue item in the `Location` header, `api/json`, the
progressive console text with `X-Text-Size` and `X-More-Data`) and
https://www.jenkins.io/doc/book/security/csrf-protection/ (the crumb from
`/crumbIssuer/api/json`, sent in the header its `crumbRequestField` names, valid only within
the web session that got it: the client keeps the session cookie). Authentication is HTTP
Basic with a user name and that user's API token.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import TypeVar
from urllib.parse import urljoin, urlsplit

import httpx
import msgspec

from domain.jenkins_spec import job_url_path

TIMEOUT_S = 30.0
_T = TypeVar("_T")


class JenkinsError(Exception):
    """Jenkins refused or could not be asked; the message says which, for the step's log."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class JenkinsUnreachable(JenkinsError):
    """No answer, or a 5xx: asking again later may work."""


class Executable(msgspec.Struct, frozen=True):
    number: int
    url: str = ""


class QueueItem(msgspec.Struct, frozen=True):
    """`<queue item>/api/json`: waiting (`why`), cancelled, or started (`executable`)."""

    id: int = 0
    cancelled: bool = False
    why: str | None = None
    executable: Executable | None = None


class BuildState(msgspec.Struct, frozen=True):
    """`/job/<name>/<n>/api/json`: `result` is null while the build runs."""

    building: bool = False
    result: str | None = None
    url: str = ""


class ConsoleText(msgspec.Struct, frozen=True):
    text: bytes
    next_start: int
    more: bool


class JenkinsClient:
    """One HTTP session with one Jenkins: Basic auth, its cookie jar, and the crumb it issued."""

    def __init__(self, url: str, user: str, token: str, *, timeout_s: float = TIMEOUT_S) -> None:
        self.root = url if url.endswith("/") else url + "/"
        self._http = httpx.AsyncClient(
            auth=httpx.BasicAuth(user, token), timeout=timeout_s, follow_redirects=False
        )
        self._crumb: dict[str, str] | None = None

    async def __aenter__(self) -> JenkinsClient:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._http.aclose()

    def job_url(self, job: str) -> str:
        return f"{self.root}{job_url_path(job)}/"

    def build_url(self, job: str, number: int) -> str:
        return f"{self.job_url(job)}{number}/"

    async def crumb(self) -> dict[str, str]:
        """The header to send with each POST; none when the server has CSRF protection off."""
        if self._crumb is None:
            answer = await self._send("GET", f"{self.root}crumbIssuer/api/json", what="crumb")
            if answer.status_code == 404:
                self._crumb = {}  # no crumb issuer: CSRF protection is off
            else:
                self._expect(answer, (200,), "getting a crumb")
                body = _decode(answer, _Crumb, "the crumb issuer's answer")
                self._crumb = {body.crumbRequestField: body.crumb}
        return self._crumb

    async def trigger(self, job: str, parameters: Mapping[str, str]) -> str:
        """Queue a build of `job`; the queue item's URL (from `Location`)."""
        endpoint = "buildWithParameters" if parameters else "build"
        answer = await self._send(
            "POST",
            f"{self.job_url(job)}{endpoint}",
            what=f"triggering {job}",
            headers=await self.crumb(),
            data=dict(parameters) or None,
        )
        if answer.status_code == 404:
            raise JenkinsError(f"no job {job!r} on {self.root}", status=404)
        self._expect(answer, (200, 201, 302), f"triggering {job}")
        location = answer.headers.get("Location")
        if not location:
            raise JenkinsError(f"Jenkins queued {job} but gave no queue item (no Location)")
        # Its path only: Jenkins writes its configured root URL, which may not be the one this
        # runner reaches it by (a proxy, an internal name); the token goes to no other host.
        return urljoin(self.root, urlsplit(location).path)

    async def queue_item(self, item_url: str) -> QueueItem:
        base = item_url if item_url.endswith("/") else item_url + "/"
        answer = await self._send("GET", f"{base}api/json", what="reading the queue item")
        self._expect(answer, (200,), "reading the queue item")
        return _decode(answer, QueueItem, "the queue item")

    async def cancel_queued(self, item: QueueItem) -> None:
        """`POST /queue/cancelItem?id=<id>`: the build never starts."""
        answer = await self._send(
            "POST",
            f"{self.root}queue/cancelItem",
            what="cancelling the queue item",
            headers=await self.crumb(),
            params={"id": str(item.id)},
        )
        self._expect(answer, (200, 204, 302, 404), "cancelling the queue item")

    async def console(self, job: str, number: int, start: int) -> ConsoleText:
        """The console text from byte `start` on, where to ask next, and whether more may come."""
        answer = await self._send(
            "GET",
            f"{self.build_url(job, number)}logText/progressiveText",
            what="reading the console",
            params={"start": str(start)},
        )
        self._expect(answer, (200,), "reading the console")
        try:
            next_start = int(answer.headers.get("X-Text-Size", ""))
        except ValueError:
            next_start = start + len(answer.content)
        more = answer.headers.get("X-More-Data", "").lower() == "true"
        return ConsoleText(text=answer.content, next_start=next_start, more=more)

    async def build(self, job: str, number: int) -> BuildState:
        answer = await self._send(
            "GET",
            f"{self.build_url(job, number)}api/json",
            what="reading the build",
            params={"tree": "building,result,url"},
        )
        self._expect(answer, (200,), "reading the build")
        return _decode(answer, BuildState, "the build")

    async def stop(self, job: str, number: int) -> None:
        """`POST /job/<name>/<n>/stop`: Jenkins aborts the build (it ends ABORTED)."""
        answer = await self._send(
            "POST",
            f"{self.build_url(job, number)}stop",
            what="stopping the build",
            headers=await self.crumb(),
        )
        self._expect(answer, (200, 302), "stopping the build")

    async def _send(
        self,
        method: str,
        url: str,
        *,
        what: str,
        headers: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        if urlsplit(url).netloc != urlsplit(self.root).netloc:
            # A Location or link pointing elsewhere would get the API token: refused.
            raise JenkinsError(f"{what}: {url} is not on {self.root}")
        try:
            answer = await self._http.request(
                method, url, headers=headers, data=data, params=params
            )
        except httpx.HTTPError as error:
            raise JenkinsUnreachable(f"{what}: {type(error).__name__}: {error}") from error
        if answer.status_code >= 500:
            raise JenkinsUnreachable(
                f"{what}: HTTP {answer.status_code}", status=answer.status_code
            )
        if answer.status_code == 401:
            raise JenkinsError(
                f"{what}: HTTP 401: Jenkins refused the user and API token", status=401
            )
        if answer.status_code == 403:
            # No permission on the job, or (a POST) no valid crumb: Jenkins says which.
            said = answer.text.strip().splitlines()[0][:200] if answer.text.strip() else ""
            raise JenkinsError(f"{what}: HTTP 403: {said or 'forbidden'}", status=403)
        return answer

    @staticmethod
    def _expect(answer: httpx.Response, statuses: tuple[int, ...], what: str) -> None:
        if answer.status_code not in statuses:
            raise JenkinsError(f"{what}: HTTP {answer.status_code}", status=answer.status_code)


class _Crumb(msgspec.Struct, frozen=True):
    crumb: str
    crumbRequestField: str  # Jenkins' own name


def _decode(answer: httpx.Response, kind: type[_T], what: str) -> _T:
    try:
        return msgspec.json.decode(answer.content, type=kind)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise JenkinsError(f"{what} is not what Jenkins sends: {error}") from error
