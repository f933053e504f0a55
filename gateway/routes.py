"""The gateway's WebSocket endpoints: accept, authenticate, authorize, then stream a Session.

A refusal is a close frame after the handshake, never an HTTP status: browsers only show
their scripts the close code and reason.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from litestar import WebSocket, websocket
from litestar.exceptions import NotAuthorizedException
from litestar.handlers import WebsocketRouteHandler
from litestar.params import FromPath

from gateway import codes
from gateway.credentials import presented
from gateway.hub import Hub
from gateway.session import Session
from gateway.watch import Kind, Reader, Refused, Watch, resolve

MAX_POSITION = 2**63 - 1
Authenticate = Callable[[Any, str], Awaitable[Reader]]
"""`(app state, token) -> the caller`; raises NotAuthorizedException for a bad credential."""

PATHS: dict[Kind, str] = {
    "run": "/ws/runs/{target:str}",
    "pipeline": "/ws/pipeline/{target:str}",
    "project": "/ws/project/{target:str}",
    "system": "/ws/system",
}


def _after(socket: WebSocket) -> int | None:
    raw = socket.query_params.get("after")
    if raw is None:
        return None
    # At most a bigint, as positions are: a larger one could only fail the replay's query.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 19 and int(raw) <= MAX_POSITION):
        raise Refused(codes.BAD_REQUEST, "after must be a position: a non-negative integer")
    return int(raw)


async def stream(socket: WebSocket, kind: Kind, target: str, authenticate: Authenticate) -> None:
    """Refuse with a close code (4400, 4401, 4403, 4404, 1013), else stream until the end."""
    state = socket.app.state
    hub: Hub = state.gateway_hub
    credential = presented(socket)
    # The token's subprotocol is echoed even when refusing: a browser fails a handshake
    # that drops the subprotocol it offered, and would never see the close code.
    await socket.accept(subprotocols=credential.subprotocol if credential else None)
    try:
        if credential is None:
            raise Refused(codes.UNAUTHORIZED, "credentials required: ?token= or a subprotocol")
        after = _after(socket)
        watch = await _watch(state, authenticate, credential.token, kind, target)
        if not await hub.feed.start():
            raise Refused(codes.UNAVAILABLE, "NATS unavailable; retry")
    except Refused as refused:
        await socket.close(code=refused.code, reason=codes.reason(refused.reason))
        return

    async def check() -> None:
        await _authenticated(authenticate, state, credential.token)

    session = Session(socket, watch, hub.config, after, credential.token, check)
    await session.run(hub.feed, hub.keeper, state.pool)


async def _watch(
    state: Any, authenticate: Authenticate, token: str, kind: Kind, target: str
) -> Watch:
    try:
        reader = await _authenticated(authenticate, state, token)
        async with state.pool.acquire() as conn:
            return await resolve(conn, reader, kind, target)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        raise Refused(codes.UNAVAILABLE, "database unavailable; retry") from None


async def _authenticated(authenticate: Authenticate, state: Any, token: str) -> Reader:
    try:
        return await authenticate(state, token)
    except NotAuthorizedException as exc:
        raise Refused(codes.UNAUTHORIZED, str(exc.detail)) from None


def websocket_routes(authenticate: Authenticate) -> list[WebsocketRouteHandler]:
    """One handler per path; the API's authentication middleware skips them (they use tokens)."""

    def handler(kind: Kind) -> WebsocketRouteHandler:
        async def one(socket: WebSocket, target: FromPath[str]) -> None:
            await stream(socket, kind, target, authenticate)

        async def everything(socket: WebSocket) -> None:
            await stream(socket, kind, "", authenticate)

        serve = everything if kind == "system" else one
        return websocket(PATHS[kind], opt={"exclude_from_auth": True}, name=f"ws-{kind}")(serve)

    return [handler(kind) for kind in PATHS]
