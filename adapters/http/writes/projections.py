"""An operator's decisions about a view's quarantine: retry the stream, or skip its poison event.

Each is a command appending an event to the view's quarantine stream, so the ledger keeps who
decided what and why; the projector acts on it in the feed. The answer is where the decision
was written: `GET /api/v1/projections` (or the view itself, with `X-Min-Position`) shows the
outcome once the projector has reached it.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, Response, post
from litestar.params import FromPath, JSONBody
from msgspec import Meta

from adapters.http.answers import answers
from adapters.http.commanding import execute
from adapters.http.security import Req
from commands.quarantine import (
    RETRY_REASON,
    Position,
    RetryQuarantinedEvents,
    SkipQuarantinedEvent,
)
from domain.limits import CLEAN, REASON_MAX, Keyword, Reason


class SkipBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    reason: Annotated[str, Meta(min_length=1, max_length=REASON_MAX, pattern=CLEAN)]
    """Why the event may be dropped from the view for good (kept for auditors)."""


class RetryBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    reason: Reason = RETRY_REASON


class QuarantineController(Controller):
    path = "/api/v1/projections/{name:str}/quarantine/{position:int}"
    tags = ["projections"]

    @post(
        "/skip",
        operation_id="skipQuarantinedEvent",
        status_code=202,
        responses=answers(202),
        summary="Skip a view's poison event for good, then apply its stream's parked events",
        description="Admin scope over every project. `position` is the poison event's (the "
        "first quarantined event of its stream); a `reason` is required. Appends a "
        "`ProjectionEventSkipped` event, which the projector acts on in order (a rebuild too).",
    )
    async def skip(
        self,
        request: Req,
        name: FromPath[Keyword],
        position: FromPath[Position],
        data: JSONBody[SkipBody],
    ) -> Response[bytes]:
        command = SkipQuarantinedEvent(projection=name, position=position, reason=data.reason)
        return await execute(request, command)

    @post(
        "/retry",
        operation_id="retryQuarantinedEvents",
        status_code=202,
        responses=answers(202),
        summary="Apply a quarantined stream's events to the view again, in order, after a fix",
        description="Admin scope over every project. The body may be `{}` (the reason then "
        "defaults). Appends a `ProjectionRetryRequested` event; the first event that fails "
        "again stays quarantined, with its new error.",
    )
    async def retry(
        self,
        request: Req,
        name: FromPath[Keyword],
        position: FromPath[Position],
        data: JSONBody[RetryBody],
    ) -> Response[bytes]:
        command = RetryQuarantinedEvents(projection=name, position=position, reason=data.reason)
        return await execute(request, command)


ROUTES = [QuarantineController]
