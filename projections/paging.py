"""Listing a read model: filters as numbered SQL parameters, a sort, and offset or keyset pages."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Literal, Protocol, TypeVar
from uuid import UUID

import asyncpg
import msgspec

from projections.rows import ident

T = TypeVar("T")


class _Identified(Protocol):
    @property
    def id(self) -> UUID: ...


R = TypeVar("R", bound=_Identified)
Order = Literal["asc", "desc"]
LIMIT_MAX = 1000


class InvalidQuery(ValueError):
    """A query parameter the read model cannot honour; `parameter` names it (for a 422)."""

    def __init__(self, parameter: str, reason: str) -> None:
        self.parameter = parameter
        self.reason = reason
        super().__init__(f"{parameter}: {reason}")


class Page(msgspec.Struct, frozen=True, kw_only=True):
    """Which slice of a list: `limit` rows after `offset` rows, or after the row `cursor` names."""

    limit: int = 50
    offset: int | None = None
    cursor: str | None = None
    order_by: str | None = None
    """One of the endpoint's sort names; None: its default."""
    order: Order = "desc"
    count: bool = False
    """Also count every row the filters match (the answer's `total`), whatever the page."""


class PageResult(msgspec.Struct, Generic[T], frozen=True, kw_only=True):
    items: tuple[T, ...]
    next_cursor: str | None = None
    """Given when more rows follow: pass it back as `cursor` (same order_by and order)."""
    total: int | None = None
    """Rows matching the filters (not the page), when the page asked to count."""


@dataclass(frozen=True)
class SortKey:
    """A sortable column; `nullable` ones are indexed `NULLS FIRST`: NULL sorts lowest."""

    column: str
    type: type = datetime
    nullable: bool = False


class Where:
    """AND-ed conditions; each `{}` in a condition becomes the next numbered parameter."""

    def __init__(self) -> None:
        self.conditions: list[str] = []
        self.args: list[Any] = []

    def add(self, condition: str, *values: Any) -> None:
        marks = []
        for value in values:
            self.args.append(value)
            marks.append(f"${len(self.args)}")
        self.conditions.append(condition.format(*marks))

    def when(self, value: Any, condition: str) -> None:
        """Add `condition` on `value` unless `value` is None or empty."""
        if value is not None and value not in ("", (), []):
            self.add(condition, value)

    def one_of(self, column: str, values: tuple[Any, ...], sql_type: str) -> None:
        """`column` equals one of `values` (plain `=` for one value: the planner likes it best)."""
        if len(values) == 1:
            self.add(f"{column} = {{}}", values[0])
        elif values:
            self.add(f"{column} = ANY({{}}::{sql_type}[])", list(values))

    def within(self, column: str, project_ids: tuple[UUID, ...] | None) -> None:
        """The caller's reach: None is everywhere, an empty tuple nowhere."""
        if project_ids is None:
            return
        if project_ids:
            self.one_of(column, project_ids, "uuid")
        else:
            self.conditions.append("false")

    def sql(self) -> str:
        return f" WHERE {' AND '.join(self.conditions)}" if self.conditions else ""


@dataclass(frozen=True)
class PageQuery:
    sql: str
    args: list[Any]
    sort_name: str
    sort: SortKey
    order: Order
    limit: int
    count_sql: str | None = None
    count_args: tuple[Any, ...] = ()
    first_page: bool = False


def page_query(
    source: str,
    where: Where,
    page: Page,
    sorts: Mapping[str, SortKey],
    default: str,
    *,
    row: str = "to_jsonb(r)",
) -> PageQuery:
    """The SELECT of one page of `source` (`<table> r`): rows as JSON (`row`), one more than
    asked."""
    name = page.order_by or default
    if name not in sorts:
        raise InvalidQuery("order_by", f"one of {', '.join(sorts)}")
    if page.order not in ("asc", "desc"):
        raise InvalidQuery("order", "asc or desc")
    if not 1 <= page.limit <= LIMIT_MAX:
        raise InvalidQuery("limit", f"from 1 to {LIMIT_MAX}")
    if page.offset is not None and page.offset < 0:
        raise InvalidQuery("offset", "must be >= 0")
    if page.offset is not None and page.cursor is not None:
        raise InvalidQuery("cursor", "give either offset or cursor, not both")
    sort, desc = sorts[name], page.order == "desc"
    # Counted before the cursor's condition: the total is of the list, not of what follows.
    count_sql = f"SELECT count(*) FROM {source}{where.sql()}" if page.count else None
    count_args = tuple(where.args)
    if page.cursor is not None:
        value, last_id = _decode_cursor(page.cursor, name, page.order, sort)
        _after(where, sort, desc, value, last_id)
    direction = "DESC" if desc else "ASC"
    nulls = (" NULLS LAST" if desc else " NULLS FIRST") if sort.nullable else ""
    sql = (
        f"SELECT {row}::text FROM {source}{where.sql()} "
        f"ORDER BY r.{sort.column} {direction}{nulls}, r.id {direction} "
        f"LIMIT {page.limit + 1} OFFSET {page.offset or 0}"
    )
    first_page = not page.offset and page.cursor is None
    return PageQuery(
        sql, where.args, name, sort, page.order, page.limit, count_sql, count_args, first_page
    )


async def fetch_page(
    conn: asyncpg.Connection | asyncpg.Pool, query: PageQuery, row_type: type[R]
) -> PageResult[R]:
    decoder = msgspec.json.Decoder(row_type)
    rows = [decoder.decode(text) for (text,) in await conn.fetch(query.sql, *query.args)]
    items = tuple(rows[: query.limit])
    total = await _total(conn, query, len(rows))
    if len(rows) <= query.limit:
        return PageResult(items=items, next_cursor=None, total=total)
    last = items[-1]
    value = getattr(last, query.sort.column)
    cursor = _encode_cursor(query, value, last.id)
    return PageResult(items=items, next_cursor=cursor, total=total)


async def _total(
    conn: asyncpg.Connection | asyncpg.Pool, query: PageQuery, fetched: int
) -> int | None:
    if query.count_sql is None:
        return None
    if query.first_page and fetched <= query.limit:
        return fetched  # the whole list fits in this page: it is its own count
    return await conn.fetchval(query.count_sql, *query.count_args)


async def get_by_id(
    conn: asyncpg.Connection | asyncpg.Pool,
    schema: str,
    table: str,
    row_id: UUID,
    row_type: type[T],
    *,
    row: str = "to_jsonb(r)",
) -> T | None:
    """The row of `table` whose `id` is `row_id` (as JSON: `row`), or None."""
    text = await conn.fetchval(
        f"SELECT {row}::text FROM {ident(schema)}.{ident(table)} r WHERE r.id = $1", row_id
    )
    return None if text is None else msgspec.json.decode(text, type=row_type)


def _after(where: Where, sort: SortKey, desc: bool, value: Any, last_id: UUID) -> None:
    """Keyset condition: rows strictly after (`value`, `last_id`) in the page's order."""
    col = f"r.{sort.column}"
    if value is None:
        # NULL sorts lowest: ascending, the NULLs come first and then every non-NULL row.
        if desc:
            where.add(f"({col} IS NULL AND r.id < {{}})", last_id)
        else:
            where.add(f"(({col} IS NULL AND r.id > {{}}) OR {col} IS NOT NULL)", last_id)
    elif desc:
        tail = f" OR {col} IS NULL" if sort.nullable else ""
        where.add(f"(({col}, r.id) < ({{}}, {{}}){tail})", value, last_id)
    else:
        where.add(f"({col}, r.id) > ({{}}, {{}})", value, last_id)


def _encode_cursor(query: PageQuery, value: Any, last_id: UUID) -> str:
    raw = msgspec.json.encode((query.sort_name, query.order, value, last_id))
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode_cursor(cursor: str, name: str, order: str, sort: SortKey) -> tuple[Any, UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        made_for, made_order, value, last_id = msgspec.json.decode(
            raw, type=tuple[str, str, Any, UUID]
        )
        value = msgspec.convert(value, sort.type | None)
    except (binascii.Error, ValueError, msgspec.ValidationError, msgspec.DecodeError):
        raise InvalidQuery("cursor", "not a cursor this list gave") from None
    if (made_for, made_order) != (name, order):
        raise InvalidQuery(
            "cursor", f"made for order_by={made_for}&order={made_order}: pass the same again"
        )
    return value, last_id
