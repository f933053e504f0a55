"""The baseline server of bench/webhooks.py, run inside the uvicorn process: create_app's
middleware and one route that only verifies the signature."""

from __future__ import annotations

import os


def verify_only_app(settings):
    """The baseline: create_app's middleware (keep them in step), a verify-and-202 route."""
    from litestar import Litestar, Request, Response, get, post
    from litestar.middleware import DefineMiddleware
    from litestar.plugins.problem_details import ProblemDetailsPlugin

    from adapters.http import security
    from adapters.http.problems import problem, problem_details_config
    from adapters.webhooks.limits import MAX_BODY_BYTES
    from adapters.webhooks.verify import BadSignature, verify_github

    secrets = [os.environ["BENCH_WEBHOOK_SECRET"]]
    middleware = security.security_middleware(settings)
    names = {"Request": Request, "Response": Response}  # not in this module's globals

    @post("/webhooks/github/{source:str}", request_max_body_size=MAX_BODY_BYTES,
          signature_namespace=names)  # fmt: skip
    async def receive(request: Request, source: str) -> Response[bytes]:
        try:
            verify_github(secrets, request.headers, await request.body())
        except BadSignature as refused:
            raise problem(401, "bad_signature", "bad signature", refused.reason) from None
        return Response(b'{"outcome":"accepted"}', status_code=202, media_type="application/json")

    @get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return Litestar(
        route_handlers=[health, receive],
        middleware=[*middleware, DefineMiddleware(security.FlowledgerAuthentication)],
        before_send=[security.security_headers],
        cors_config=security.cors_config(settings),
        request_max_body_size=settings.max_body_bytes,
        plugins=[ProblemDetailsPlugin(problem_details_config())],
    )
