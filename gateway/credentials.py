"""Where a WebSocket client puts its token: the `token` query parameter or a subprotocol."""

from __future__ import annotations

from typing import NamedTuple

from litestar import WebSocket

SUBPROTOCOL_PREFIX = "flowledger.token."


class Presented(NamedTuple):
    token: str
    subprotocol: str | None
    """The subprotocol that carried the token, echoed back on accept."""


def presented(socket: WebSocket) -> Presented | None:
    """The token the client sent, or None."""
    protocols = socket.scope.get("subprotocols") or []
    for protocol in protocols:
        if protocol.startswith(SUBPROTOCOL_PREFIX) and len(protocol) > len(SUBPROTOCOL_PREFIX):
            return Presented(protocol[len(SUBPROTOCOL_PREFIX) :], protocol)
    token = socket.query_params.get("token")
    return Presented(token, None) if token else None
