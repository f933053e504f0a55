"""Outbound webhook subscriptions: created with a generated secret (sealed before any event),
disabled, enabled, deleted; the deliverer's decisions (park, disable) and re-sends asked for."""

from __future__ import annotations

import base64
import secrets
from typing import Annotated, ClassVar
from uuid import UUID

import msgspec
from msgspec import Meta

from commands.bus import CommandResult, Dependencies
from commands.context import CommandContext, Principal
from commands.outcome import SecretShown, answer, with_secret
from domain.delivery_record import MESSAGE_ID_MAX
from domain.errors import AggregateNotFound, IllegalTransition
from domain.limits import CLEAN, INT32_MAX, INT64_MAX, Reason, Url
from domain.project import Project, ProjectStatus
from domain.subscription import EVENT_TYPES_MAX, Subscription

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
"""Standard Webhooks: a secret of 24 to 64 random bytes, shown as `whsec_` and base64."""

DELIVERER = Principal(
    id="system:deliverer",
    name="deliverer",
    project_id=None,
    scopes=frozenset({"write"}),
)
"""Who the deliverer's decisions (a delivery parked, a failing subscription disabled) act as."""

EventPattern = Annotated[str, Meta(min_length=1, max_length=100, pattern=r"^[A-Za-z*?]{1,100}$")]
MessageId = Annotated[str, Meta(min_length=1, max_length=MESSAGE_ID_MAX, pattern=CLEAN)]
Position = Annotated[int, Meta(ge=1, le=INT64_MAX)]


class CreateSubscription(msgspec.Struct, frozen=True, kw_only=True):
    project_id: UUID
    url: Url
    event_types: Annotated[tuple[EventPattern, ...], Meta(min_length=1, max_length=EVENT_TYPES_MAX)]


class DeleteSubscription(msgspec.Struct, frozen=True, kw_only=True):
    retry_on_conflict: ClassVar[bool] = True
    subscription_id: UUID
    project_id: UUID | None = None
    """When given (the URL's project), a subscription of another project is not found."""


class DisableSubscription(msgspec.Struct, frozen=True, kw_only=True):
    retry_on_conflict: ClassVar[bool] = True
    subscription_id: UUID
    project_id: UUID | None = None
    """When given (the URL's project), a subscription of another project is not found."""
    reason: Reason = ""


class EnableSubscription(msgspec.Struct, frozen=True, kw_only=True):
    retry_on_conflict: ClassVar[bool] = True
    subscription_id: UUID
    project_id: UUID | None = None
    """When given (the URL's project), a subscription of another project is not found."""


class ParkDelivery(msgspec.Struct, frozen=True, kw_only=True):
    retry_on_conflict: ClassVar[bool] = True
    subscription_id: UUID
    message_id: MessageId
    event_position: Position
    attempts: Annotated[int, Meta(ge=1, le=INT32_MAX)]
    last_status: Annotated[int, Meta(ge=100, le=599)] | None
    last_error: Reason = ""


class ResendDelivery(msgspec.Struct, frozen=True, kw_only=True):
    retry_on_conflict: ClassVar[bool] = True
    subscription_id: UUID
    project_id: UUID | None = None
    """When given (the URL's project), a subscription of another project is not found."""
    message_id: MessageId
    event_position: Position


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


async def create_subscription(
    command: CreateSubscription, context: CommandContext, deps: Dependencies
) -> SecretShown:
    context.principal.require("admin", command.project_id)
    project = await deps.repository.get(Project, command.project_id)
    if project.status is not ProjectStatus.ACTIVE:
        raise IllegalTransition("project", project.status.value, "subscribe to")
    secret = new_secret()
    subscription = Subscription.create(
        id=context.new_id("subscription"),
        project_id=command.project_id,
        url=command.url,
        event_types=command.event_types,
        sealed_secret=await deps.sealer.seal(secret),
        at=context.at,
    )
    appended = await deps.repository.save(subscription, metadata=context.metadata())
    return with_secret(subscription, appended, secret)


async def _owned(
    subscription_id: UUID,
    context: CommandContext,
    deps: Dependencies,
    *alternatives: str,
    project_id: UUID | None = None,
) -> Subscription:
    """The subscription, if the caller may act on it (and it is of `project_id`, if given)."""
    subscription = await deps.repository.get(Subscription, subscription_id)
    if project_id is not None and subscription.project_id != project_id:
        raise AggregateNotFound(subscription.stream_type, subscription.id)
    context.principal.require_on("admin", subscription, subscription.project_id, *alternatives)
    return subscription


async def delete_subscription(
    command: DeleteSubscription, context: CommandContext, deps: Dependencies
) -> CommandResult:
    subscription = await _owned(
        command.subscription_id, context, deps, project_id=command.project_id
    )
    subscription.delete(at=context.at)
    saved = await deps.repository.save(subscription, metadata=context.metadata())
    # After the event: a failed save must not leave a live subscription unable to sign.
    await deps.sealer.forget(subscription.sealed_secret)
    return answer(subscription, saved)


async def disable_subscription(
    command: DisableSubscription, context: CommandContext, deps: Dependencies
) -> CommandResult:
    subscription = await _owned(
        command.subscription_id, context, deps, "write", project_id=command.project_id
    )
    subscription.disable(reason=command.reason, at=context.at)
    return answer(
        subscription, await deps.repository.save(subscription, metadata=context.metadata())
    )


async def enable_subscription(
    command: EnableSubscription, context: CommandContext, deps: Dependencies
) -> CommandResult:
    subscription = await _owned(
        command.subscription_id, context, deps, project_id=command.project_id
    )
    subscription.enable(at=context.at)
    return answer(
        subscription, await deps.repository.save(subscription, metadata=context.metadata())
    )


async def park_delivery(
    command: ParkDelivery, context: CommandContext, deps: Dependencies
) -> CommandResult:
    subscription = await _owned(command.subscription_id, context, deps, "write")
    subscription.park(
        message_id=command.message_id,
        event_position=command.event_position,
        attempts=command.attempts,
        last_status=command.last_status,
        last_error=command.last_error,
        at=context.at,
    )
    return answer(
        subscription, await deps.repository.save(subscription, metadata=context.metadata())
    )


async def resend_delivery(
    command: ResendDelivery, context: CommandContext, deps: Dependencies
) -> CommandResult:
    subscription = await _owned(
        command.subscription_id, context, deps, project_id=command.project_id
    )
    subscription.request_resend(
        message_id=command.message_id, event_position=command.event_position, at=context.at
    )
    return answer(
        subscription, await deps.repository.save(subscription, metadata=context.metadata())
    )


HANDLERS = {
    CreateSubscription: create_subscription,
    DeleteSubscription: delete_subscription,
    DisableSubscription: disable_subscription,
    EnableSubscription: enable_subscription,
    ParkDelivery: park_delivery,
    ResendDelivery: resend_delivery,
}
