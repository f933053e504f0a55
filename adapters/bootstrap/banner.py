"""`up`'s first-start banner (the admin key, shown once), printed again once start-up is done:
the roles' start-up lines would otherwise scroll it out of sight."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from importlib.metadata import version

import httpx

from adapters.platform.embedded import ServerUrls
from adapters.platform.setting_values import redact
from adapters.platform.settings import Settings

READY_WITHIN_S = 120.0


@contextlib.asynccontextmanager
async def repeated_when_ready(
    api_url: str, lines: Sequence[str], out: Callable[[str], None]
) -> AsyncIterator[None]:
    """Print `lines` again once the API at `api_url` answers /ready (the block owns the task)."""
    if not lines:
        yield
        return
    task = asyncio.create_task(_when_ready(api_url, lines, out), name="banner")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _when_ready(api_url: str, lines: Sequence[str], out: Callable[[str], None]) -> None:
    deadline = asyncio.get_running_loop().time() + READY_WITHIN_S
    async with httpx.AsyncClient(base_url=api_url, timeout=2.0) as http:
        while asyncio.get_running_loop().time() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get("/ready")).status_code == 200:
                    break
            await asyncio.sleep(0.25)
    out("  start-up done; repeated from above:")
    for line in lines:
        out(line)


def announce(
    settings: Settings,
    urls: ServerUrls,
    sock: socket.socket,
    out: Callable[[str], None],
    *,
    dashboard: bool = True,
) -> None:
    """Where this process listens and which servers and data it uses, fit to print."""
    host, port = sock.getsockname()[:2]
    shown_host = f"[{host}]" if ":" in host else host
    embedded = settings.database_url is None or settings.nats_url is None
    out(f"flowledger {version('flowledger')}")
    out(f"  listening on  http://{shown_host}:{port}  (OpenAPI at /docs)")
    if dashboard:
        out(f"  dashboard     http://{shown_host}:{port}/dashboard/runs  (sign in with an API key)")
    out(f"  database      {redact(urls.database_url)}")
    out(f"  nats          {redact(urls.nats_url)}")
    out(f"  data          {settings.data_dir if embedded else 'in the servers above'}")
