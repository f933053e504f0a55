"""The runner's side of the HTTP API: register, heartbeat, report steps, send logs, with retries.

Transient failures (no connection, 5xx, 429, a version conflict the server gave up on) are
retried with backoff until a deadline; every report carries an Idempotency-Key, so a retried
POST whose first try committed gets its first answer back instead of a refusal.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any
from uuid import UUID

import aiohttp
import msgspec

log = logging.getLogger(__name__)

TRANSPORT_ERRORS = (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, TimeoutError)
"""The request may not have reached the API, or its answer was lost on the way: try again."""
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
TRANSIENT_CODES = frozenset({"version_conflict"})
"""409s that say "try again", not "you are stale"."""
STEP_SECRETS_RETRY_S = 30.0


class ApiError(Exception):
    """The API answered with a problem; `status` and stable `code` say which."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        self.status = status
        self.code = code
        self.detail = detail
        super().__init__(f"{status} {code}: {detail}")


class Stale(ApiError):
    """409: the attempt is not current, already running elsewhere, or the run has ended."""


class Refused(ApiError):
    """Any other 4xx: asking again would be refused again."""


class ApiUnavailable(Exception):
    """The API kept failing transiently until the retry deadline."""


class JobRef(msgspec.Struct, frozen=True, kw_only=True):
    run_id: UUID
    step: str
    attempt: int


class RunnerApi:
    """One pooled HTTP client for one runner, authenticated with its `runner`-scoped key.

    aiohttp rather than httpx: a status report costs the runner about 0.1 ms of CPU instead of
    0.7 ms (bench/runner.py sends two per step, on the path from a job to its step started).
    """

    def __init__(self, base_url: str, token: str, *, timeout_s: float = 10.0) -> None:
        self._base = base_url.rstrip("/")
        self._headers = {"X-API-Key": token, "User-Agent": "flowledger-runner"}
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._retry_cap: float | None = None

    def hurry(self, within_s: float) -> None:
        """From now on, give up retrying after `within_s` at most (the runner is stopping)."""
        self._retry_cap = asyncio.get_running_loop().time() + within_s

    async def __aenter__(self) -> RunnerApi:
        # Made here, in the running loop: aiohttp binds a session to it.
        self._client = aiohttp.ClientSession(
            headers=self._headers,
            timeout=self._timeout,
            connector=aiohttp.TCPConnector(limit=32),
        )
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._client.close()

    async def register(
        self,
        *,
        name: str,
        labels: Sequence[str],
        host: str,
        version: str,
        concurrency: int,
        retry_for_s: float,
    ) -> UUID:
        body = {
            "name": name,
            "labels": list(labels),
            "host": host,
            "version": version,
            "concurrency": concurrency,
        }
        answer = await self.post("/api/v1/runners", body, retry_for_s=retry_for_s)
        return UUID(str(answer["runner_id"]))

    async def heartbeat(self, runner_id: UUID, jobs: Sequence[JobRef]) -> None:
        body = {"jobs": msgspec.to_builtins(list(jobs))}
        await self.post(f"/api/v1/runners/{runner_id}/heartbeat", body, retry_for_s=0)

    async def deregister(self, runner_id: UUID, *, retry_for_s: float) -> None:
        await self.post(f"/api/v1/runners/{runner_id}/deregister", None, retry_for_s=retry_for_s)

    async def report_step(
        self,
        run_id: UUID,
        body: Mapping[str, Any],
        *,
        key: str,
        traceparent: str | None,
        retry_for_s: float,
    ) -> dict[str, Any]:
        return await self.post(
            f"/api/v1/pipeline-runs/{run_id}/status",
            body,
            key=key,
            traceparent=traceparent,
            retry_for_s=retry_for_s,
        )

    async def link_jenkins_build(
        self, run_id: UUID, body: Mapping[str, Any], *, key: str, traceparent: str | None
    ) -> dict[str, Any]:
        """Which Jenkins build a jenkins step's attempt started (the run records it)."""
        return await self.post(
            f"/api/v1/pipeline-runs/{run_id}/jenkins-builds",
            body,
            key=key,
            traceparent=traceparent,
            retry_for_s=STEP_SECRETS_RETRY_S,
        )

    async def step_secrets(
        self, run_id: UUID, body: Mapping[str, Any], *, traceparent: str | None
    ) -> dict[str, str]:
        """The values of the secrets the attempt's step declares (the API records which)."""
        answer = await self.post(
            f"/api/v1/pipeline-runs/{run_id}/secrets",
            body,
            traceparent=traceparent,
            retry_for_s=STEP_SECRETS_RETRY_S,
        )
        values = answer.get("values")
        return {str(k): str(v) for k, v in values.items()} if isinstance(values, dict) else {}

    async def append_logs(
        self,
        run_id: UUID,
        chunks: Sequence[Mapping[str, Any]],
        *,
        key: str,
        traceparent: str | None,
        retry_for_s: float,
    ) -> dict[str, Any]:
        return await self.post(
            f"/api/v1/pipeline-runs/{run_id}/logs",
            {"chunks": list(chunks)},
            key=key,
            traceparent=traceparent,
            retry_for_s=retry_for_s,
        )

    async def post(
        self,
        path: str,
        body: object,
        *,
        key: str | None = None,
        traceparent: str | None = None,
        retry_for_s: float,
    ) -> dict[str, Any]:
        """POST JSON; the answer's body. Raises Stale, Refused or ApiUnavailable."""
        headers = {"Content-Type": "application/json"}
        if key is not None:
            headers["Idempotency-Key"] = key
        if traceparent:
            headers["traceparent"] = traceparent
        content = b"" if body is None else msgspec.json.encode(body)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + retry_for_s
        if self._retry_cap is not None:
            deadline = min(deadline, self._retry_cap)
        delay = 0.05
        url = self._base + path
        while True:
            try:
                async with self._client.post(url, data=content, headers=headers) as answer:
                    status = answer.status
                    payload = await answer.read()
                    retry_after = answer.headers.get("Retry-After", "0")
                    reason = answer.reason or ""
            except TRANSPORT_ERRORS as exc:
                failure: str = f"{type(exc).__name__}: {exc}"
                wait = delay
            else:
                if 200 <= status < 300:
                    return _json(payload)
                error = _error(status, payload, reason)
                if not _transient(error):
                    raise error
                failure = str(error)
                wait = max(delay, _retry_after(retry_after))
            if loop.time() + wait > deadline:
                raise ApiUnavailable(f"POST {path}: {failure}")
            log.debug("POST %s failed (%s); retrying in %.2fs", path, failure, wait)
            # Jitter: runners that lost the API together should not come back in lockstep.
            await asyncio.sleep(wait * random.uniform(0.8, 1.2))
            delay = min(delay * 2, 2.0)


def _json(payload: bytes) -> dict[str, Any]:
    if not payload:
        return {}
    found = msgspec.json.decode(payload)
    return found if isinstance(found, dict) else {}


def _error(status: int, payload: bytes, reason: str) -> ApiError:
    try:
        problem = msgspec.json.decode(payload)
    except msgspec.DecodeError:
        problem = {}
    if not isinstance(problem, dict):
        problem = {}
    code = str(problem.get("code") or "error")
    detail = str(problem.get("detail") or reason)
    if status == 409 and code not in TRANSIENT_CODES:
        return Stale(status, code, detail)
    if 400 <= status < 500 and status != 429:
        return Refused(status, code, detail)
    return ApiError(status, code, detail)


def _transient(error: ApiError) -> bool:
    return error.status in TRANSIENT_STATUSES or error.code in TRANSIENT_CODES


def _retry_after(header: str) -> float:
    try:
        return min(float(header), 10.0)
    except ValueError:
        return 0.0
