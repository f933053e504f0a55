"""JSON request bodies: sent as JSON (else 415), and decodable (else 400 `malformed_json`).

Every route that takes a body reads it through `JsonRequest.json`, so the rules hold for all
of them at once. A route reading its bytes itself (webhooks, MCP) keeps its own rules.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.exceptions import SerializationException

from adapters.http.problems import problem

JSON = "application/json"


def is_json(content_type: str | None) -> bool:
    """`application/json` or `application/<anything>+json`, whatever its parameters."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return media_type == JSON or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


class JsonRequest(Request[Any, Any, Any]):
    """litestar's Request whose JSON body is checked before anything is built from it."""

    async def json(self) -> Any:
        # An empty body is no body: a route whose body is optional takes none, and
        # litestar reads it as `null`. Any other body must say it is JSON, or it could be
        # a form or text that merely parses as JSON, written as if the client meant it.
        if await self.body() and not is_json(self.headers.get("content-type")):
            given = self.headers.get("content-type") or "no Content-Type"
            raise problem(
                415,
                "unsupported_media_type",
                "unsupported media type",
                f"send the body as {JSON}, not {given[:100]}",
            )
        try:
            return await super().json()
        except UnicodeDecodeError as error:
            raise SerializationException(f"the body is not valid UTF-8: {error}") from error
        except RecursionError as error:
            # msgspec stops at the interpreter's recursion limit, some 1,000 levels.
            raise SerializationException("the body is nested too deeply") from error
