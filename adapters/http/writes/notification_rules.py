"""Notification rules of a project: created, changed, disabled, enabled, deleted, and a parked
notification re-sent. A channel whose target resolves to a non-public address is refused here
unless FLOWLEDGER_OUTBOUND_ALLOW names it (the deliverer checks again before every send)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import msgspec
from litestar import Controller, Response, delete, post, put
from litestar.params import FromPath, JSONBody

from adapters.http.answers import answers
from adapters.http.commanding import execute
from adapters.http.problems import problem
from adapters.http.security import Req
from adapters.outbound.targets import AllowList, Blocked, resolve
from commands.notification_rules import (
    Branch,
    ChangeNotificationRule,
    CreateNotificationRule,
    DeleteNotificationRule,
    DisableNotificationRule,
    EnableNotificationRule,
    ResendNotification,
    Triggers,
)
from commands.subscriptions import MessageId, Position
from domain.limits import Name, Reason
from domain.notification_channel import Channel, EmailChannel

UNRESOLVED = ("cannot resolve", "has no address")
"""A name that does not resolve now may later: only a non-public answer is refused early."""


class RuleBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Name
    triggers: Annotated[
        Triggers,
        msgspec.Meta(
            description="run_failed, run_recovered (a success after the previous finished run "
            "of the same pipeline and branch failed), approval_waiting, runner_lost, "
            "system_notice."
        ),
    ]
    channel: Annotated[
        Channel,
        msgspec.Meta(
            description='{"type": "slack", "url_secret": NAME} (or "url"), or {"type": '
            '"email", "host", "port", "sender", "to", "starttls", "username", '
            '"password_secret"}: secrets are named, never given.'
        ),
    ]
    pipeline_id: UUID | None = None
    branch: Branch | None = None


class RuleDisabling(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    reason: Reason = ""


class Resend(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    message_id: MessageId
    event_position: Position


async def _reachable(request: Req, channel: Channel) -> None:
    if isinstance(channel, EmailChannel):
        url, field = f"http://{channel.host}:{channel.port}/", "channel.host"
    elif channel.url is not None:
        url, field = channel.url, "channel.url"
    else:
        return  # a URL kept as a secret is checked when it is sent to
    allow = AllowList.parse(request.app.state.settings.outbound_allow)
    try:
        await resolve(url, allow)
    except Blocked as refused:
        if not any(part in str(refused) for part in UNRESOLVED):
            raise problem(
                422, "target_not_allowed", "target not allowed", str(refused), field=field
            ) from None
    except ValueError:
        raise problem(
            422, "invalid_value", "invalid value", "not a valid target", field=field
        ) from None


class NotificationRulesController(Controller):
    path = "/api/v1/projects/{project_id:uuid}/notification-rules"
    tags = ["notifications"]

    @post(
        "/",
        operation_id="createNotificationRule",
        status_code=201,
        responses=answers(201),
        description="Needs `admin` on the project. The secrets the channel names must exist.",
    )
    async def create(
        self, request: Req, project_id: FromPath[UUID], data: JSONBody[RuleBody]
    ) -> Response[bytes]:
        await _reachable(request, data.channel)
        command = CreateNotificationRule(project_id=project_id, **msgspec.structs.asdict(data))
        return await execute(request, command, status=201)

    @put(
        "/{rule_id:uuid}",
        operation_id="changeNotificationRule",
        status_code=202,
        responses=answers(202),
        description="Replace the rule's name, triggers, filters and channel.",
    )
    async def change(
        self,
        request: Req,
        project_id: FromPath[UUID],
        rule_id: FromPath[UUID],
        data: JSONBody[RuleBody],
    ) -> Response[bytes]:
        await _reachable(request, data.channel)
        command = ChangeNotificationRule(
            rule_id=rule_id, project_id=project_id, **msgspec.structs.asdict(data)
        )
        return await execute(request, command)

    @delete(
        "/{rule_id:uuid}",
        operation_id="deleteNotificationRule",
        status_code=202,
        responses=answers(202),
    )
    async def remove(
        self, request: Req, project_id: FromPath[UUID], rule_id: FromPath[UUID]
    ) -> Response[bytes]:
        command = DeleteNotificationRule(rule_id=rule_id, project_id=project_id)
        return await execute(request, command)

    @post("/{rule_id:uuid}/disable", operation_id="disableNotificationRule", responses=answers(202))
    async def disable(
        self,
        request: Req,
        project_id: FromPath[UUID],
        rule_id: FromPath[UUID],
        data: JSONBody[RuleDisabling],
    ) -> Response[bytes]:
        command = DisableNotificationRule(
            rule_id=rule_id, project_id=project_id, reason=data.reason
        )
        return await execute(request, command)

    @post("/{rule_id:uuid}/enable", operation_id="enableNotificationRule", responses=answers(202))
    async def enable(
        self, request: Req, project_id: FromPath[UUID], rule_id: FromPath[UUID]
    ) -> Response[bytes]:
        command = EnableNotificationRule(rule_id=rule_id, project_id=project_id)
        return await execute(request, command)

    @post(
        "/{rule_id:uuid}/deliveries/resend",
        operation_id="resendNotification",
        responses=answers(202),
        description="Send one parked notification again, with the usual retries.",
    )
    async def resend(
        self,
        request: Req,
        project_id: FromPath[UUID],
        rule_id: FromPath[UUID],
        data: JSONBody[Resend],
    ) -> Response[bytes]:
        command = ResendNotification(
            rule_id=rule_id,
            project_id=project_id,
            message_id=data.message_id,
            event_position=data.event_position,
        )
        return await execute(request, command)
