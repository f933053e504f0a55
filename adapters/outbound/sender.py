"""One HTTP request of a delivery: to the checked address, signed, bounded in time."""

from __future__ import annotations

import time
from dataclasses import dataclass
from importlib.metadata import version

import httpx

from adapters.outbound import signing
from adapters.outbound.targets import AllowList, Blocked, resolve

USER_AGENT = f"flowledger-webhooks/{version('flowledger')}"


@dataclass(frozen=True)
class Answer:
    status_code: int | None
    error: str
    duration_ms: int
    blocked: bool = False

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def send(
    client: httpx.AsyncClient,
    url: str,
    allow: AllowList,
    key: bytes,
    message_id: str,
    body: bytes,
) -> Answer:
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        target = await resolve(url, allow)
    except Blocked as refused:
        return Answer(None, f"blocked: {refused}", took(), blocked=True)
    headers = signing.headers(key, message_id, int(time.time()), body)
    headers["host"] = target.host_header
    headers["user-agent"] = USER_AGENT
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    try:
        response = await client.post(
            target.pinned_url, content=body, headers=headers, extensions=extensions
        )
    except httpx.HTTPError as exc:
        return Answer(None, f"{type(exc).__name__}: {exc}"[:500], took())
    error = "" if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
    return Answer(response.status_code, error, took())
