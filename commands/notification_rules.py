"""Notification rules of a project: created, changed, disabled, enabled, deleted (by an admin
of the project); the deliverer's parked notifications; re-sends asked for.

A rule's pipeline must be the project's and every secret its channel names must exist in the
project (project-wide) when the rule is written: a typo is refused now, not at 3 a.m.
"""

from __future__ import annotations

from typing import Annotated, ClassVar
from uuid import UUID

import msgspec
from msgspec import Meta

from commands.bus import CommandResult, Dependencies
from commands.context import CommandContext
from commands.outcome import answer
from commands.subscriptions import MessageId, Position
from domain.errors import AggregateNotFound, IllegalTransition, InvalidValue
from domain.limits import INT32_MAX, Name, Reason
from domain.notification_channel import Channel, secret_names
from domain.notification_rule import TRIGGERS, NotificationRule, Trigger
from domain.pipeline import Pipeline
from domain.project import Project, ProjectStatus
from domain.secret import Secret, secret_stream_id

Triggers = Annotated[tuple[Trigger, ...], Meta(min_length=1, max_length=len(TRIGGERS))]
Branch = Annotated[str, Meta(min_length=1, max_length=255)]


class CreateNotificationRule(msgspec.Struct, frozen=True, kw_only=True):
    project_id: UUID
    name: Name
    triggers: Triggers
    channel: Channel
    pipeline_id: UUID | None = None
    branch: Branch | None = None


class ChangeNotificationRule(msgspec.Struct, frozen=True, kw_only=True):
    retry_on_conflict: ClassVar[bool] = True
    rule_id: UUID
    project_id: UUID
    name: Name
    triggers: Triggers
    channel: Channel
    pipeline_id: UUID | None = None
    branch: Branch | None = None


class DisableNotificationRule(msgspec.Struct, frozen=True, kw_only=True):
    retry_on_conflict: ClassVar[bool] = True
    rule_id: UUID
    project_id: UUID | None = None
    """When given (the URL's project), a rule of another project is not found."""
    reason: Reason = ""


class EnableNotificationRule(msgspec.Struct, frozen=True, kw_only=True):
    retry_on_conflict: ClassVar[bool] = True
    rule_id: UUID
    project_id: UUID | None = None


class DeleteNotificationRule(msgspec.Struct, frozen=True, kw_only=True):
    retry_on_conflict: ClassVar[bool] = True
    rule_id: UUID
    project_id: UUID | None = None


class ParkNotification(msgspec.Struct, frozen=True, kw_only=True):
    retry_on_conflict: ClassVar[bool] = True
    rule_id: UUID
    message_id: MessageId
    event_position: Position
    attempts: Annotated[int, Meta(ge=1, le=INT32_MAX)]
    last_status: Annotated[int, Meta(ge=100, le=599)] | None
    last_error: Reason = ""


class ResendNotification(msgspec.Struct, frozen=True, kw_only=True):
    retry_on_conflict: ClassVar[bool] = True
    rule_id: UUID
    project_id: UUID | None = None
    message_id: MessageId
    event_position: Position


async def _check_targets(
    project_id: UUID, pipeline_id: UUID | None, channel: Channel, deps: Dependencies
) -> None:
    if pipeline_id is not None:
        try:
            pipeline = await deps.repository.get(Pipeline, pipeline_id)
        except AggregateNotFound:
            raise InvalidValue("pipeline_id", "no such pipeline in this project") from None
        if pipeline.project_id != project_id:
            raise InvalidValue("pipeline_id", "no such pipeline in this project")
    for field, name in secret_names(channel):
        try:
            secret = await deps.repository.get(Secret, secret_stream_id(project_id, name, None))
        except AggregateNotFound:
            secret = None
        if secret is None or secret.deleted:
            raise InvalidValue(
                field, f"the project has no secret {name!r} (set it first: flowledger secrets set)"
            )


async def create_notification_rule(
    command: CreateNotificationRule, context: CommandContext, deps: Dependencies
) -> CommandResult:
    context.principal.require("admin", command.project_id)
    project = await deps.repository.get(Project, command.project_id)
    if project.status is not ProjectStatus.ACTIVE:
        raise IllegalTransition("project", project.status.value, "add a notification rule to")
    await _check_targets(command.project_id, command.pipeline_id, command.channel, deps)
    rule = NotificationRule.create(
        id=context.new_id("notification-rule"),
        project_id=command.project_id,
        name=command.name,
        triggers=command.triggers,
        pipeline_id=command.pipeline_id,
        branch=command.branch,
        channel=command.channel,
        at=context.at,
    )
    return answer(rule, await deps.repository.save(rule, metadata=context.metadata()))


async def _owned(
    rule_id: UUID, project_id: UUID | None, context: CommandContext, deps: Dependencies, *alt: str
) -> NotificationRule:
    rule = await deps.repository.get(NotificationRule, rule_id)
    if project_id is not None and rule.project_id != project_id:
        raise AggregateNotFound(rule.stream_type, rule.id)
    context.principal.require_on("admin", rule, rule.project_id, *alt)
    return rule


async def change_notification_rule(
    command: ChangeNotificationRule, context: CommandContext, deps: Dependencies
) -> CommandResult:
    rule = await _owned(command.rule_id, command.project_id, context, deps)
    await _check_targets(rule.project_id, command.pipeline_id, command.channel, deps)
    rule.change(
        name=command.name,
        triggers=command.triggers,
        pipeline_id=command.pipeline_id,
        branch=command.branch,
        channel=command.channel,
        at=context.at,
    )
    return answer(rule, await deps.repository.save(rule, metadata=context.metadata()))


async def disable_notification_rule(
    command: DisableNotificationRule, context: CommandContext, deps: Dependencies
) -> CommandResult:
    rule = await _owned(command.rule_id, command.project_id, context, deps)
    rule.disable(reason=command.reason, at=context.at)
    return answer(rule, await deps.repository.save(rule, metadata=context.metadata()))


async def enable_notification_rule(
    command: EnableNotificationRule, context: CommandContext, deps: Dependencies
) -> CommandResult:
    rule = await _owned(command.rule_id, command.project_id, context, deps)
    rule.enable(at=context.at)
    return answer(rule, await deps.repository.save(rule, metadata=context.metadata()))


async def delete_notification_rule(
    command: DeleteNotificationRule, context: CommandContext, deps: Dependencies
) -> CommandResult:
    rule = await _owned(command.rule_id, command.project_id, context, deps)
    rule.delete(at=context.at)
    return answer(rule, await deps.repository.save(rule, metadata=context.metadata()))


async def park_notification(
    command: ParkNotification, context: CommandContext, deps: Dependencies
) -> CommandResult:
    rule = await _owned(command.rule_id, None, context, deps, "write")
    rule.park(
        message_id=command.message_id,
        event_position=command.event_position,
        attempts=command.attempts,
        last_status=command.last_status,
        last_error=command.last_error,
        at=context.at,
    )
    return answer(rule, await deps.repository.save(rule, metadata=context.metadata()))


async def resend_notification(
    command: ResendNotification, context: CommandContext, deps: Dependencies
) -> CommandResult:
    rule = await _owned(command.rule_id, command.project_id, context, deps)
    rule.request_resend(
        message_id=command.message_id, event_position=command.event_position, at=context.at
    )
    return answer(rule, await deps.repository.save(rule, metadata=context.metadata()))


HANDLERS = {
    CreateNotificationRule: create_notification_rule,
    ChangeNotificationRule: change_notification_rule,
    DisableNotificationRule: disable_notification_rule,
    EnableNotificationRule: enable_notification_rule,
    DeleteNotificationRule: delete_notification_rule,
    ParkNotification: park_notification,
    ResendNotification: resend_notification,
}
