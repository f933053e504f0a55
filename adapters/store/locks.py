"""Advisory-lock keys: one stable 64-bit number per named job, shared by every process, and
the watch on the connection that holds one.

Here rather than beside one of its users: projections and the relay both take these locks,
and neither may import the other.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable
from typing import TypeVar

import asyncpg

T = TypeVar("T")


def lock_key(purpose: str, name: str) -> int:
    """A stable signed 64-bit advisory lock key, e.g. for `projection:runs` or `relay:main`."""
    digest = hashlib.sha256(f"{purpose}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


LINK_CHECK_S = 1.0
CANCEL_WAIT_S = 5.0
SESSION_KEEPALIVES = {
    "tcp_keepalives_idle": "10",
    "tcp_keepalives_interval": "5",
    "tcp_keepalives_count": "3",
}
"""Server settings for a long-lived session (a lock holder, a LISTEN): a holder whose host
vanishes keeps its lock until PostgreSQL notices, which these bound to about 25 s (the system
default is hours), so a standby takes over in seconds, not hours."""


class LinkLost(ConnectionError):
    """The connection holding a session lock is gone: so is the lock."""


async def while_linked(conn: asyncpg.Connection, work: Awaitable[T]) -> T:
    """Run `work`, which uses `conn`, until it ends or `conn` is closed under it.

    After the server vanished mid-query (a kill -9) asyncpg has been seen to leave the query
    waiting forever on a closed connection; a holder of a session lock must then let go
    (cancel `work`, raise `LinkLost`) and connect again, or it stalls in silence.
    """
    lost = asyncio.Event()

    def on_lost(_conn: object) -> None:
        lost.set()

    conn.add_termination_listener(on_lost)
    task = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=LINK_CHECK_S)
            if done:
                return task.result()
            if lost.is_set() or conn.is_closed():
                raise LinkLost("the PostgreSQL connection was closed under a running query")
    finally:
        conn.remove_termination_listener(on_lost)
        if not task.done():
            task.cancel()
            task.add_done_callback(_retrieve)
            # Bounded: work that swallows its cancel must not hold its caller with it.
            await asyncio.wait({task}, timeout=CANCEL_WAIT_S)


def _retrieve(task: asyncio.Future[object]) -> None:
    """Read a cancelled work's outcome, so asyncio does not report it as never retrieved."""
    if not task.cancelled():
        task.exception()
