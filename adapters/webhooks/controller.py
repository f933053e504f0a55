"""The webhook routes: no API key (a provider signs instead), a body of up to 25 MiB."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.exceptions import HTTPException
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, FromQuery
from litestar.types import ASGIApp, Receive, Scope, Send
from prometheus_client import Counter

from adapters.http.answers import PROBLEM
from adapters.telemetry.metrics import WEBHOOK_DELIVERIES, labelled
from adapters.webhooks.ingest import Receipt, ingest
from adapters.webhooks.limits import MAX_BODY_BYTES
from domain.webhook_source import KINDS

ANSWERS = {
    202: ResponseSpec(data_container=Receipt, description="recorded, to be processed"),
    200: ResponseSpec(data_container=Receipt, description="a redelivery: the first record"),
    **{status: PROBLEM for status in (400, 401, 404, 409, 413, 429, 503)},
}
VERIFICATION = {
    "github": "X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>",
    "gitlab": "X-Gitlab-Token: <secret>, or a Standard Webhooks signature",
    "jenkins": "HTTP Basic password, or ?token=<secret> (the plugin signs nothing)",
    "generic": "Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature",
}


class Endpoint(msgspec.Struct, frozen=True, kw_only=True):
    kind: str
    paths: tuple[str, ...]
    verification: str


class Endpoints(msgspec.Struct, frozen=True, kw_only=True):
    endpoints: tuple[Endpoint, ...]


ENDPOINTS = Endpoints(
    endpoints=tuple(
        Endpoint(
            kind=kind,
            paths=(f"/webhooks/{kind}/{{source}}", f"/webhooks/{kind}?source={{source}}"),
            verification=VERIFICATION[kind],
        )
        for kind in KINDS
    )
)


def _served_raw(app: ASGIApp) -> ASGIApp:
    """The route's middleware: `_answered_raw` in place of litestar's handler call (`app`)."""
    return _answered_raw


class WebhooksController(Controller):
    path = "/webhooks"
    tags = ["webhooks"]
    request_max_body_size = MAX_BODY_BYTES

    @post(
        "/{kind:str}/{source:str}",
        operation_id="receiveWebhook",
        responses=ANSWERS,
        description="`kind`: github, gitlab, jenkins or generic; `source`: its id or name.",
        middleware=[_served_raw],
    )
    async def receive(
        self, request: Request[Any, Any, Any], kind: FromPath[str], source: FromPath[str]
    ) -> Response[bytes]:
        # Declares the operation; its requests are served by `_answered_raw`.
        return _answer(*await _receive(request, kind, source))

    @post(
        "/{kind:str}",
        operation_id="receiveWebhookBySourceQuery",
        responses=ANSWERS,
        description="As `receiveWebhook`, the source named by `?source=<id or name>`.",
    )
    async def receive_by_query(
        self,
        request: Request[Any, Any, Any],
        kind: FromPath[str],
        source: FromQuery[str | None] = None,
    ) -> Response[bytes]:
        return _answer(*await _receive(request, kind, source))

    @get(
        "/test",
        operation_id="listWebhookEndpoints",
        description="The endpoints and how each is verified; no source data, so no key needed.",
    )
    async def endpoints(self) -> Endpoints:
        return ENDPOINTS


async def _answered_raw(scope: Scope, receive: Receive, send: Send) -> None:
    """The hot route's innermost layer (its handler's own middleware): it answers itself, so
    litestar's handler call (kwargs, signature model, exit stack, response objects) is skipped.

    Everything around it is as for any route: the telemetry, the other middleware, the
    `before_send` hooks (security headers, X-Request-ID) and the exception handlers, which make
    every refusal's problem answer. The head is the one litestar's `Response` sent
    (tests/integration/webhooks/test_receive_route.py)."""
    params = scope["path_params"]  # type: ignore[typeddict-item]
    request: Request[Any, Any, Any] = Request(scope, receive, send)
    status, content = await _receive(request, params["kind"], params["source"])
    length = str(len(content)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", length)]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content, "more_body": False})


def _answer(status: int, content: bytes) -> Response[bytes]:
    return Response(content, status_code=status, media_type="application/json")


async def _receive(
    request: Request[Any, Any, Any], kind: str, source: str | None
) -> tuple[int, bytes]:
    """The answer's status and body; refusals are raised (problem details)."""
    try:
        body = await request.body()  # first: an oversized body is refused (413) before any lookup
        receipt = await ingest(
            request.app.state.services,
            kind=kind,
            source=source,
            headers=request.headers,
            query=request.query_params,
            body=body,
            now=datetime.now(UTC),
        )
    except HTTPException as refused:
        outcome = "bad_signature" if refused.status_code == 401 else "rejected"
        _counted(kind, outcome).inc()
        raise
    _counted(kind, "duplicate" if receipt.duplicate else "accepted").inc()
    return 200 if receipt.duplicate else 202, msgspec.json.encode(receipt)


def _counted(kind: str, outcome: str) -> Counter:
    """The deliveries' counter of `(kind, outcome)`: a known kind's child is kept (`labelled`);
    an unknown kind is any path a caller sent, so it is not."""
    if kind in KINDS:
        return labelled(WEBHOOK_DELIVERIES, kind, outcome)
    return WEBHOOK_DELIVERIES.labels(kind, outcome)


ROUTES = [WebhooksController]
