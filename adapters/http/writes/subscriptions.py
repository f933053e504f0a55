"""Outbound webhook subscriptions of a project: created (secret shown once), disabled, enabled,
deleted, and a delivery re-sent."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import msgspec
from litestar import Controller, Response, delete, post
from litestar.params import FromPath, JSONBody

from adapters.http.answers import answers
from adapters.http.commanding import execute
from adapters.http.security import Req
from commands.subscriptions import (
    CreateSubscription,
    DeleteSubscription,
    DisableSubscription,
    EnableSubscription,
    EventPattern,
    MessageId,
    Position,
    ResendDelivery,
)
from domain.limits import Reason, Url
from domain.subscription import EVENT_TYPES_MAX


class SubscriptionCreate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    url: Annotated[
        Url,
        msgspec.Meta(
            description="Where each event is POSTed: an http(s) URL without credentials. "
            "Addresses that are not public are refused unless FLOWLEDGER_OUTBOUND_ALLOW "
            "names them."
        ),
    ]
    event_types: Annotated[
        tuple[EventPattern, ...],
        msgspec.Meta(
            min_length=1,
            max_length=EVENT_TYPES_MAX,
            description="Event types wanted (`RunFailed`), globs (`Run*`), or `*` for all.",
        ),
    ]


class SubscriptionDisabling(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    reason: Reason = ""


class Resend(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    message_id: MessageId
    """The delivery's `webhook-id` (the event id), as the deliveries list shows it."""
    event_position: Position


class SubscriptionsController(Controller):
    path = "/api/v1/projects/{project_id:uuid}/subscriptions"
    tags = ["subscriptions"]

    @post(
        "/",
        operation_id="createSubscription",
        status_code=201,
        responses=answers(201),
        description="Needs `admin` on the project. The answer's `secret` (`whsec_…`, the "
        "Standard Webhooks signing secret) is shown this once.",
    )
    async def create(
        self, request: Req, project_id: FromPath[UUID], data: JSONBody[SubscriptionCreate]
    ) -> Response[bytes]:
        command = CreateSubscription(
            project_id=project_id, url=data.url, event_types=data.event_types
        )
        return await execute(request, command, status=201)

    @delete(
        "/{subscription_id:uuid}",
        operation_id="deleteSubscription",
        status_code=202,
        responses=answers(202),
    )
    async def remove(
        self, request: Req, project_id: FromPath[UUID], subscription_id: FromPath[UUID]
    ) -> Response[bytes]:
        command = DeleteSubscription(subscription_id=subscription_id, project_id=project_id)
        return await execute(request, command)

    @post(
        "/{subscription_id:uuid}/disable",
        operation_id="disableSubscription",
        responses=answers(202),
    )
    async def disable(
        self,
        request: Req,
        project_id: FromPath[UUID],
        subscription_id: FromPath[UUID],
        data: JSONBody[SubscriptionDisabling],
    ) -> Response[bytes]:
        command = DisableSubscription(
            subscription_id=subscription_id, project_id=project_id, reason=data.reason
        )
        return await execute(request, command)

    @post(
        "/{subscription_id:uuid}/enable", operation_id="enableSubscription", responses=answers(202)
    )
    async def enable(
        self, request: Req, project_id: FromPath[UUID], subscription_id: FromPath[UUID]
    ) -> Response[bytes]:
        command = EnableSubscription(subscription_id=subscription_id, project_id=project_id)
        return await execute(request, command)

    @post(
        "/{subscription_id:uuid}/deliveries/resend",
        operation_id="resendDelivery",
        responses=answers(202),
        description="Send one event again (the same `webhook-id`), with the usual retries.",
    )
    async def resend(
        self,
        request: Req,
        project_id: FromPath[UUID],
        subscription_id: FromPath[UUID],
        data: JSONBody[Resend],
    ) -> Response[bytes]:
        command = ResendDelivery(
            subscription_id=subscription_id,
            project_id=project_id,
            message_id=data.message_id,
            event_position=data.event_position,
        )
        return await execute(request, command)
