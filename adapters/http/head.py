"""HEAD on the docs pages: answered as GET without the body.

Litestar serves /docs from its OpenAPI router with GET only, so `curl -I /docs` and link
checkers got 405. The router cannot take a second handler on those paths, so this wraps the
app's ASGI handler, in front of routing.
"""

from __future__ import annotations

from litestar.types import ASGIApp, Message, Receive, Scope, Send

DOCS_PREFIX = "/docs"


def head_as_get(app: ASGIApp) -> ASGIApp:
    async def handler(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"
            or scope["method"] != "HEAD"
            or not (path == DOCS_PREFIX or path.startswith(DOCS_PREFIX + "/"))
        ):
            await app(scope, receive, send)
            return

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b"", "more_body": message.get("more_body", False)}
            await send(message)

        await app({**scope, "method": "GET"}, receive, without_body)  # type: ignore[arg-type]

    return handler
