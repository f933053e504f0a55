"""The HTTP API: the litestar app factory and its controllers."""

from adapters.http.app import create_app

__all__ = ["create_app"]
