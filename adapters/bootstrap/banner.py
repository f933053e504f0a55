"""`up`'s first-start banner (the admin key, shown once), printed again once start-up is done:
the roles' start-up lines would otherwise scroll it out of sight."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence

import httpx

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
