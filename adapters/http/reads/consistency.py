"""Read-your-writes: wait (bounded) for the views a query reads, then read them at one snapshot."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import asyncpg
from litestar import Request
from litestar.plugins.problem_details import ProblemDetailsException

from adapters.http.own_writes import OwnWrites, caller_of, mark_behind, own_writes_of
from adapters.http.reads.params import Query, bounded_integer, invalid
from projections.paging import InvalidQuery
from projections.reached import least_reached
from projections.snapshot import views_snapshot

T = TypeVar("T")

WAIT_S = 5.0
"""How long a query given `min_position` waits for its views; tests shorten it."""
POLL_S = 0.02
MIN_POSITION_HEADER = "X-Min-Position"
POSITION_HEADER = "X-Projection-Position"


async def view_position(conn: asyncpg.Connection, names: Sequence[str]) -> int:
    """The position every named view has reached (0 if one has no checkpoint): the least of
    their reaches, each its checkpoint or past it (`projections.reached`)."""
    return await least_reached(conn, names)


def wanted_position(request: Request[Any, Any, Any], query: Query) -> int | None:
    """`min_position` from the query string, else the `X-Min-Position` header, else None."""
    if "min_position" in query.values:
        return query.values["min_position"]
    header = request.headers.get(MIN_POSITION_HEADER)
    if header is None:
        return None
    return bounded_integer(MIN_POSITION_HEADER, header, 0)


async def caught_up(pool: asyncpg.Pool, names: Sequence[str], wanted: int) -> int:
    """Return once the views reach `wanted`, or raise a 503 `projection_behind` after WAIT_S."""
    position = await reached(pool, names, wanted, WAIT_S)
    if position < wanted:
        raise _behind(wanted, position)
    return position


async def reached(pool: asyncpg.Pool, names: Sequence[str], wanted: int, wait_s: float) -> int:
    """The views' position once it reaches `wanted`, or whatever it is after `wait_s`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        # Polling a tiny indexed table every 20 ms costs less than holding a LISTEN
        # connection per waiting request, and it cannot miss a notification.
        async with pool.acquire() as conn:
            position = await view_position(conn, names)
        if position >= wanted or loop.time() >= deadline:
            return position
        await asyncio.sleep(POLL_S)


def _behind(wanted: int, position: int) -> ProblemDetailsException:
    return ProblemDetailsException(
        status_code=503,
        title="the view has not caught up yet",
        detail=f"asked for position {wanted}; the view is at {position} after {WAIT_S:g} s",
        extra={"code": "projection_behind", "position": position, "min_position": wanted},
        headers={"Retry-After": "1", POSITION_HEADER: str(position)},
    )


def _unavailable(names: Sequence[str]) -> ProblemDetailsException:
    return ProblemDetailsException(
        status_code=503,
        title="the view does not exist yet",
        detail=f"no projector has built {', '.join(names)} yet",
        extra={"code": "projection_unavailable"},
        headers={"Retry-After": "5"},
    )


async def read_views(
    request: Request[Any, Any, Any],
    query: Query,
    names: Sequence[str],
    read: Callable[[asyncpg.Connection], Awaitable[T]],
) -> tuple[int, T]:
    """Run `read` in one read-only snapshot with the views' position, after any wait asked for."""
    pool: asyncpg.Pool = request.app.state.services.store.pool
    wanted = wanted_position(request, query)
    if wanted is None:
        await _await_own_writes(request, pool, names)
    return await read_consistent(pool, names, read, wanted=wanted)


async def _await_own_writes(
    request: Request[Any, Any, Any], pool: asyncpg.Pool, names: Sequence[str]
) -> None:
    """Without `min_position`, a caller's read waits (bounded) for its own last write."""
    own_writes, caller = own_writes_of(request), caller_of(request)
    if own_writes is None or caller is None:
        return
    missed = await own_write_missed(pool, names, own_writes, caller)
    if missed is not None:
        # Answered anyway, as the caller did not ask to wait; the header says it is older.
        mark_behind(request, missed)


async def own_write_missed(
    pool: asyncpg.Pool, names: Sequence[str], own_writes: OwnWrites, caller: str
) -> int | None:
    """Wait (bounded) for `caller`'s last write; the position still missed after, or None."""
    awaited = own_writes.awaited(caller)
    if awaited is None:
        return None
    position = await reached(pool, names, awaited, own_writes.wait_s)
    return awaited if position < awaited else None


async def read_consistent(
    pool: asyncpg.Pool,
    names: Sequence[str],
    read: Callable[[asyncpg.Connection], Awaitable[T]],
    *,
    wanted: int | None,
) -> tuple[int, T]:
    """`read_views` for callers without a litestar request (the MCP tools), same guarantees."""
    if wanted is not None:
        await caught_up(pool, names, wanted)
    # The runtime commits rows and checkpoint together, so one snapshot sees both as of
    # the same position: the position we report is exactly the one the rows reflect.
    async with pool.acquire() as conn, views_snapshot(conn, names):
        position = await view_position(conn, names)
        try:
            return position, await read(conn)
        except InvalidQuery as exc:  # the read model's own checks, e.g. a cursor it never gave
            raise invalid(exc.parameter, f"{exc.parameter}: {exc.reason}") from None
        except asyncpg.UndefinedTableError:
            # No projector has created the view yet (a fresh database): not the client's fault.
            raise _unavailable(names) from None
