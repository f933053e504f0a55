"""The figures of bench/webhooks.py for one offered rate and variant, and the intake's lag
behind what was accepted."""

from __future__ import annotations

import asyncio
import time

from bench._http_load import Totals


class Figures(Totals):
    pg_cpu_s: float = 0.0  # the embedded PostgreSQL's processes, over the measured window
    intake_lag: int = -1  # deliveries not yet processed at the window's end (-1: not run)
    intake_done_s: float = -1.0  # from the window's end until all were processed


INTAKE_LAG = (
    "SELECT count(*) FROM events WHERE type = 'WebhookReceived' AND position > "
    "(SELECT coalesce(max(position), 0) FROM projection_checkpoints WHERE name = 'webhook_intake')"
)


async def intake_lag(database_url: str, t: Figures, give_up_s: float = 120.0) -> None:
    """The deliveries the intake has still to process now, then the time until none is left."""
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        start = time.time()
        t.intake_lag = await conn.fetchval(INTAKE_LAG)
        left = t.intake_lag
        while left and time.time() - start < give_up_s:
            await asyncio.sleep(0.1)
            left = await conn.fetchval(INTAKE_LAG)
        t.intake_done_s = time.time() - start if not left else float("inf")
    finally:
        await conn.close()
