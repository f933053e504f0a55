"""The deliverer's attempts for one receiver (a subscription or a notification rule), paged.

Both keep their attempts under their own id in the deliverer's log (`adapters/outbound/`), and
both are read by a project's admins only; this is the route body they share.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

import msgspec
from litestar import Response

from adapters.http.reads import views
from adapters.http.reads.access import project_filter
from adapters.http.reads.consistency import POSITION_HEADER, read_views
from adapters.http.reads.params import MAX_INTEGER, MAX_LIMIT, QuerySpec, choice, integer, text
from adapters.http.security import Req
from adapters.outbound.attempts import Attempt, list_attempts

DELIVERIES_HELP = (
    "Every attempt: when, which event (`message_id`, `event_position`), the receiver's answer "
    "(an HTTP status, or an SMTP reply code for e-mail) or the error, how long it took, and its "
    "outcome (`delivered`, `retrying`, `parked`). Re-send one with `POST …/deliveries/resend`."
)


class DeliveryPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[Attempt]
    """Every attempt made for the receiver, oldest first."""
    next_after: int | None
    """Pass as `after` for the next page; None when this page is the last."""


def deliveries_query(message_id_help: str) -> QuerySpec:
    return QuerySpec.of(
        integer("after", 0, MAX_INTEGER, "attempts after this attempt id (the last page's)"),
        integer("limit", 1, MAX_LIMIT, "page size, default 100"),
        text("message_id", message_id_help),
        choice("outcome", ("delivered", "retrying", "parked"), "only attempts with this outcome"),
    )


def admin_reach(request: Req, project_id: UUID) -> tuple[UUID, ...]:
    project_filter(request.user, project_id, "admin")
    return (project_id,)


async def attempts_page(
    request: Req,
    query: dict[str, Any],
    views_read: tuple[str, ...],
    receiver_id: UUID,
    receiver: Callable[[Any], Awaitable[object | None]],
    what: str,
) -> Response[DeliveryPage]:
    """The attempts after `after`, if `receiver(conn)` finds the receiver the caller may see."""
    limit = query.get("limit", 100)

    async def read(conn: Any) -> DeliveryPage | None:
        if await receiver(conn) is None:
            return None
        found = await list_attempts(
            conn,
            receiver_id,
            after_id=query.get("after", 0),
            limit=limit + 1,
            message_id=query.get("message_id"),
            outcome=query.get("outcome"),
        )
        items = found[:limit]
        return DeliveryPage(items=items, next_after=items[-1].id if len(found) > limit else None)

    position, found = await read_views(request, query, views_read, read)
    if found is None:
        raise views.not_found(what)
    return Response(found, headers={POSITION_HEADER: str(position)})
