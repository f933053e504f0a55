"""A role's periodic chore: done now, then every so often, until the role stops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable


async def every_until_stopped(
    stop: asyncio.Event,
    every_s: float,
    chore: Callable[[], Awaitable[object]],
    *,
    log: logging.Logger,
    name: str,
) -> None:
    """`chore()` now and every `every_s` seconds until `stop` is set. A round that fails is
    logged as a warning and the next one tries again (the database may be away meanwhile)."""
    while not stop.is_set():
        try:
            await chore()
        except Exception as error:
            log.warning("%s: %s", name, error)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)
