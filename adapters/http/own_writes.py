"""Read-your-writes by default: each caller's last accepted write, remembered for a short while.

A command answers the position it was written at; the caller's next read, unless it names a
`min_position` itself, waits (bounded) for the views to reach that position. Only this API
process remembers, in a small LRU map whose entries expire: a caller served by another
process, or reading later than the TTL, reads as before (and can still pass `min_position`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from cachetools import TTLCache
from litestar import Request
from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

TTL_S = 10.0
"""A write older than this is assumed read already (or not awaited any more)."""
MAX_CALLERS = 10_000
"""Callers remembered at once; past it the least recently written is forgotten."""
AWAITED_HEADER = "X-Awaited-Position"
"""On a read that answered before its views reached the caller's own last write: that write."""

_STATE_KEY = "flowledger_awaited_position"


class OwnWrites:
    """Per caller (API key id or JWT subject), the position of its last accepted write."""

    def __init__(
        self,
        *,
        wait_ms: int,
        ttl_s: float = TTL_S,
        max_callers: int = MAX_CALLERS,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.wait_s = wait_ms / 1000
        self._positions: TTLCache[str, int] = TTLCache(max_callers, ttl_s, timer=timer)

    @property
    def enabled(self) -> bool:
        return self.wait_s > 0

    def note(self, caller: str, position: int | None) -> None:
        """`caller` had a write accepted at `position` (None: nothing was written)."""
        if not self.enabled or position is None:
            return
        # Concurrent writes of one caller may answer out of order: keep the latest position.
        self._positions[caller] = max(position, self._positions.get(caller, 0))

    def awaited(self, caller: str) -> int | None:
        """The position `caller`'s reads wait for now, or None."""
        if not self.enabled:
            return None
        return self._positions.get(caller)

    def __len__(self) -> int:
        return len(self._positions)


def own_writes_of(request: Request[Any, Any, Any]) -> OwnWrites | None:
    """The app's map, or None in an app built without one (it then behaves as before)."""
    found = request.app.state.get("own_writes")
    return found if isinstance(found, OwnWrites) else None


def caller_of(request: Request[Any, Any, Any]) -> str | None:
    user = request.scope.get("user")
    caller = getattr(user, "id", None)
    return caller if isinstance(caller, str) else None


def note_write(request: Request[Any, Any, Any], position: int | None) -> None:
    """Remember that this request's caller wrote at `position`."""
    own_writes, caller = own_writes_of(request), caller_of(request)
    if own_writes is not None and caller is not None:
        own_writes.note(caller, position)


def mark_behind(request: Request[Any, Any, Any], awaited: int) -> None:
    """This answer is older than the caller's own last write: say so in a header."""
    request.scope.setdefault("state", {})[_STATE_KEY] = awaited  # type: ignore[typeddict-item]


async def tell_awaited_position(message: Message, scope: Scope) -> None:
    """A before_send hook: the header `mark_behind` asked for."""
    if message["type"] != "http.response.start":
        return
    awaited = scope.get("state", {}).get(_STATE_KEY)  # type: ignore[attr-defined]
    if awaited is not None:
        MutableScopeHeaders.from_message(message)[AWAITED_HEADER] = str(awaited)
