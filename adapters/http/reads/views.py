"""Answers of the query API: a page or an item, each with the position its view was at."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

import asyncpg
from litestar import Request, Response
from litestar.openapi import ResponseSpec
from litestar.plugins.problem_details import ProblemDetailsException

from adapters.http.answers import PROBLEM
from adapters.http.problems import problem
from adapters.http.reads.consistency import POSITION_HEADER, read_views
from adapters.http.reads.params import Query

T = TypeVar("T")

_POSITION = {
    POSITION_HEADER: "the event position the view had applied when it answered",
}
_ERRORS = {401: PROBLEM, 403: PROBLEM, 422: PROBLEM, 429: PROBLEM, 503: PROBLEM}
LIST_ANSWERS: dict[int, ResponseSpec] = dict(_ERRORS)
ITEM_ANSWERS: dict[int, ResponseSpec] = {**_ERRORS, 404: PROBLEM}


class PageResult(Protocol):
    items: Sequence[Any]
    next_cursor: str | None
    total: int | None


async def page(
    request: Request[Any, Any, Any],
    query: Query,
    names: Sequence[str],
    shape: Callable[..., T],
    read: Callable[[asyncpg.Connection], Awaitable[PageResult]],
) -> Response[T]:
    """A list answer: `items`, `next_cursor`, `limit`, `position` (and `total` if asked)."""
    position, result = await read_views(request, query, names, read)
    body = page_body(shape, query, position, result)
    return Response(body, headers={POSITION_HEADER: str(position)})


def page_body(shape: Callable[..., T], query: Query, position: int, result: PageResult) -> T:
    """The body of a list answer, shaped by `shape` (a page Struct)."""
    return shape(
        items=list(result.items),
        next_cursor=result.next_cursor,
        limit=query.limit,
        position=position,
        total=result.total,
    )


async def item(
    request: Request[Any, Any, Any],
    query: Query,
    names: Sequence[str],
    read: Callable[[asyncpg.Connection], Awaitable[T | None]],
    what: str,
) -> Response[T]:
    """One item, or a 404 (also for another project's item: its existence is not told)."""
    position, found = await read_views(request, query, names, read)
    if found is None:
        raise not_found(what)
    return Response(found, headers={POSITION_HEADER: str(position)})


def not_found(what: str) -> ProblemDetailsException:
    return problem(404, "not_found", f"no such {what}", f"no {what} with that id")
