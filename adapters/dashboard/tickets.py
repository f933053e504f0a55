"""Short-lived WebSocket tickets: how a page whose credential is HttpOnly opens the gateway.

The page asks for a ticket (a CSRF-checked POST), and presents it as the gateway's token. A
ticket stands for the session's credential, which is checked afresh on every use, so a revoked
key is cut off as usual. It dies `TTL_S` after its last use: the gateway's re-checks (every
10 s) keep an open socket's ticket alive; a reconnect asks for a new one.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

PREFIX = "fld_ws_"
TTL_S = 60.0
Authenticate = Callable[[Any, str], Awaitable[Any]]


class Tickets:
    """Tickets of this process's pages; the pages' sockets reach the same process."""

    def __init__(self, ttl_s: float = TTL_S) -> None:
        self.ttl_s = ttl_s
        self._held: dict[str, tuple[str, float]] = {}

    def issue(self, credential: str) -> str:
        self._sweep()
        ticket = PREFIX + secrets.token_urlsafe(24)
        self._held[ticket] = (credential, time.monotonic() + self.ttl_s)
        return ticket

    def credential(self, token: str) -> str:
        """The credential a ticket stands for (renewing it); any other token as it is."""
        if not token.startswith(PREFIX):
            return token
        held = self._held.get(token)
        if held is None or held[1] < time.monotonic():
            self._held.pop(token, None)
            return ""  # an empty token: the authenticator refuses it as malformed
        self._held[token] = (held[0], time.monotonic() + self.ttl_s)
        return held[0]

    def authenticator(self, authenticate: Authenticate) -> Authenticate:
        """`authenticate`, taking tickets as well as API keys and JWTs."""

        async def with_tickets(state: Any, token: str) -> Any:
            return await authenticate(state, self.credential(token))

        return with_tickets

    def _sweep(self) -> None:
        now = time.monotonic()
        for ticket in [t for t, (_, until) in self._held.items() if until < now]:
            del self._held[ticket]
