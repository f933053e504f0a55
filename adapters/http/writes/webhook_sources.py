"""Webhook sources: where deliveries come from, with their (sealed) secrets."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

import msgspec
from litestar import Controller, Response, post
from litestar.params import FromPath, JSONBody

from adapters.http.answers import answers
from adapters.http.commanding import execute
from adapters.http.security import Req
from commands.webhook_sources import (
    SECRET_MIN,
    DisableWebhookSource,
    EnableWebhookSource,
    RegisterWebhookSource,
    RotateWebhookSecret,
)
from domain.limits import CLEAN, SECRET_MAX, GraceS, Name, Reason

# The command refuses a secret outside 16-256 characters; the body says so too, so the
# OpenAPI tells a client before it tries.
WebhookSecret = Annotated[
    str,
    msgspec.Meta(
        min_length=SECRET_MIN,
        max_length=SECRET_MAX,
        pattern=CLEAN,
        description="The shared secret that signs deliveries: 16 to 256 characters. Omit to "
        "have one generated; it is shown once in the answer.",
    ),
]


class WebhookSourceCreate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    project_id: UUID
    kind: Literal["github", "gitlab", "jenkins", "generic"]
    name: Name
    secret: WebhookSecret | None = None


class SecretRotation(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    secret: WebhookSecret | None = None
    grace_s: GraceS = 86_400
    """How long the previous secret keeps working."""


class Disabling(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    reason: Reason = ""


class WebhookSourcesController(Controller):
    path = "/api/v1/webhook-sources"
    tags = ["webhook sources"]

    @post("/", operation_id="registerWebhookSource", status_code=201, responses=answers(201))
    async def register(self, request: Req, data: JSONBody[WebhookSourceCreate]) -> Response[bytes]:
        command = RegisterWebhookSource(
            project_id=data.project_id, kind=data.kind, name=data.name, secret=data.secret
        )
        return await execute(request, command, status=201)

    @post(
        "/{source_id:uuid}/rotate-secret",
        operation_id="rotateWebhookSecret",
        responses=answers(202),
    )
    async def rotate(
        self, request: Req, source_id: FromPath[UUID], data: JSONBody[SecretRotation]
    ) -> Response[bytes]:
        command = RotateWebhookSecret(source_id=source_id, secret=data.secret, grace_s=data.grace_s)
        return await execute(request, command)

    @post("/{source_id:uuid}/disable", operation_id="disableWebhookSource", responses=answers(202))
    async def disable(
        self, request: Req, source_id: FromPath[UUID], data: JSONBody[Disabling]
    ) -> Response[bytes]:
        return await execute(request, DisableWebhookSource(source_id=source_id, reason=data.reason))

    @post("/{source_id:uuid}/enable", operation_id="enableWebhookSource", responses=answers(202))
    async def enable(self, request: Req, source_id: FromPath[UUID]) -> Response[bytes]:
        return await execute(request, EnableWebhookSource(source_id=source_id))
