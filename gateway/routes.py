"""The gateway's WebSocket endpoints: authenticate, authorize, then stream a Session."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar import WebSocket, websocket
from litestar.exceptions import NotAuthorizedException
from litestar.handlers import WebsocketRouteHandler
from litestar.params import FromPath

from gateway import codes
from gateway.config import GatewayConfig
from gateway.credentials import presented
from gateway.session import Session
from gateway.watch import Kind, Reader, Refused, resolve

Authenticate = Callable[[Any, str], Awaitable[Reader]]
"""`(app state, token) -> the caller`; raises NotAuthorizedException for a bad credential."""

PATHS: dict[Kind, str] = {
    "run": "/ws/runs/{target:str}",
    "pipeline": "/ws/pipeline/{target:str}",
    "project": "/ws/project/{target:str}",
    "system": "/ws/system",
}


def gateway_config(socket: WebSocket) -> GatewayConfig:
    """The app's `gateway` state if set (tests, other prefixes), else the defaults."""
    found = socket.app.state.get("gateway")
    return found if isinstance(found, GatewayConfig) else GatewayConfig()


def _after(socket: WebSocket) -> int | None:
    raw = socket.query_params.get("after")
    return int(raw) if raw is not None and raw.isdigit() else None


async def stream(socket: WebSocket, kind: Kind, target: str, authenticate: Authenticate) -> None:
    """Refuse before accepting (4401, 4403, 4404), else stream until the end of the connection."""
    state = socket.app.state
    credential = presented(socket)
    try:
        if credential is None:
            raise Refused(codes.UNAUTHORIZED, "credentials required: ?token= or a subprotocol")
        reader = await _authenticated(authenticate, state, credential.token)
        async with state.pool.acquire() as conn:
            watch = await resolve(conn, reader, kind, target)
    except Refused as refused:
        await socket.close(code=refused.code, reason=refused.reason)
        return
    nc = state.nats.client
    if not nc.is_connected:
        await socket.close(code=codes.UNAVAILABLE, reason="NATS unavailable; retry")
        return

    async def check() -> None:
        await _authenticated(authenticate, state, credential.token)

    await socket.accept(subprotocols=credential.subprotocol)
    session = Session(socket, watch, gateway_config(socket), _after(socket))
    await session.run(nc, state.pool, check)


async def _authenticated(authenticate: Authenticate, state: Any, token: str) -> Reader:
    try:
        return await authenticate(state, token)
    except NotAuthorizedException as exc:
        raise Refused(codes.UNAUTHORIZED, str(exc.detail)[:100]) from None


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
