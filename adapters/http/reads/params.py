"""The query vocabulary: each endpoint's allowed parameters, parsed to typed values or a 422."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from litestar.openapi.spec import Operation, Parameter, Schema
from litestar.openapi.spec.enums import OpenAPIType
from litestar.plugins.problem_details import ProblemDetailsException

from adapters.http.problems import problem
from projections.paging import Page

MAX_LIMIT = 1000
DEFAULT_LIMIT = 50
MAX_TEXT = 500
MAX_INTEGER = 2**63 - 1
"""PostgreSQL's bigint: every position and offset a query may name fits in one."""
MAX_INT4 = 2**31 - 1
"""PostgreSQL's integer: the views' definition versions and log sequence numbers."""


def invalid(parameter: str, detail: str) -> ProblemDetailsException:
    return problem(422, "invalid_query", "invalid query parameter", detail, parameter=parameter)


@dataclass(frozen=True)
class Param:
    """One query parameter: how to parse its raw values, and how OpenAPI shows it."""

    name: str
    parse: Callable[[str, list[str]], Any]
    schema: Schema
    description: str = ""

    def openapi(self) -> Parameter:
        return Parameter(
            name=self.name, param_in="query", schema=self.schema, description=self.description
        )


def _single(name: str, values: list[str]) -> str:
    if len(values) > 1:
        raise invalid(name, f"{name} may be given only once")
    value = values[0].strip()
    if not value or len(value) > MAX_TEXT:
        raise invalid(name, f"{name} must be 1 to {MAX_TEXT} characters")
    return _no_nul(name, value)


def _several(name: str, values: list[str]) -> tuple[str, ...]:
    # `?status=a&status=b` and `?status=a,b` mean the same.
    items = (v.strip() for raw in values for v in raw.split(",") if v.strip())
    return tuple(dict.fromkeys(_no_nul(name, item) for item in items))


def _no_nul(name: str, value: str) -> str:
    # PostgreSQL text cannot hold NUL: refused here rather than failing the query.
    if "\x00" in value:
        raise invalid(name, f"{name} must not contain a NUL character")
    return value


def text(name: str, description: str = "") -> Param:
    return Param(name, _single, Schema(type=OpenAPIType.STRING), description)


def uuid(name: str, description: str = "") -> Param:
    def parse(name: str, values: list[str]) -> UUID:
        try:
            return UUID(_single(name, values))
        except ValueError:
            raise invalid(name, f"{name} must be a UUID") from None

    return Param(name, parse, Schema(type=OpenAPIType.STRING, format="uuid"), description)


def instant(name: str, description: str = "") -> Param:
    def parse(name: str, values: list[str]) -> datetime:
        value = _single(name, values)
        try:
            # A '+' in the offset arrives as a space when the client did not percent-encode it.
            at = datetime.fromisoformat(value.replace(" ", "+") if "T" in value else value)
        except ValueError:
            raise invalid(name, f"{name} must be an ISO 8601 date-time, got {value!r}") from None
        if at.tzinfo is None:
            raise invalid(name, f"{name} needs a timezone (like Z or +02:00), got {value!r}")
        try:
            # In UTC, as the database compares it: 0001-01-01T00:00+01:00 is before year 1.
            return at.astimezone(UTC)
        except OverflowError:
            raise invalid(name, f"{name} is out of range, got {value!r}") from None

    schema = Schema(type=OpenAPIType.STRING, format="date-time")
    return Param(name, parse, schema, description or "ISO 8601 with a timezone")


def integer(name: str, low: int, high: int = MAX_INTEGER, description: str = "") -> Param:
    """An integer in `[low, high]`; never above a bigint, the widest column a query compares."""
    high = min(high, MAX_INTEGER)

    def parse(name: str, values: list[str]) -> int:
        return bounded_integer(name, _single(name, values), low, high)

    schema = Schema(type=OpenAPIType.INTEGER, minimum=low, maximum=high)
    return Param(name, parse, schema, description)


def bounded_integer(name: str, value: str, low: int, high: int = MAX_INTEGER) -> int:
    """`value` (a query value or a header) as an integer in `[low, high]`, else a 422."""
    value = value.strip()
    digits = value.removeprefix("-")
    # ASCII digits only: `int()` would also take `1_000`, `+1` and other scripts' digits.
    if not (digits.isascii() and digits.isdigit()):
        raise invalid(name, f"{name} must be an integer, got {value[:40]!r}")
    number = int(value) if len(digits) <= 20 else None
    if number is None or not low <= number <= high:
        raise invalid(name, f"{name} must be between {low} and {high}, got {value[:40]}")
    return number


def boolean(name: str, description: str = "") -> Param:
    words = {"true": True, "1": True, "false": False, "0": False}

    def parse(name: str, values: list[str]) -> bool:
        value = _single(name, values).lower()
        if value not in words:
            raise invalid(name, f"{name} must be true or false")
        return words[value]

    return Param(name, parse, Schema(type=OpenAPIType.BOOLEAN), description)


def choice(name: str, allowed: Iterable[str], description: str = "") -> Param:
    options = tuple(allowed)

    def parse(name: str, values: list[str]) -> str:
        value = _single(name, values)
        if value not in options:
            raise invalid(name, f"{name} must be one of {', '.join(options)}; got {value!r}")
        return value

    return Param(name, parse, Schema(type=OpenAPIType.STRING, enum=list(options)), description)


def many(name: str, allowed: Iterable[str] | None = None, description: str = "") -> Param:
    """Repeatable (`?x=a&x=b`) or a comma list (`?x=a,b`); each checked against `allowed`."""
    options = tuple(allowed) if allowed is not None else None

    def parse(name: str, values: list[str]) -> tuple[str, ...]:
        items = _several(name, values)
        if not items:
            raise invalid(name, f"{name} must name at least one value")
        for item in items:
            if options is not None and item not in options:
                raise invalid(name, f"{name} must be drawn from {', '.join(options)}; got {item!r}")
            if len(item) > MAX_TEXT:
                raise invalid(name, f"{name} values must be at most {MAX_TEXT} characters")
        return items

    item = Schema(type=OpenAPIType.STRING, enum=list(options) if options else None)
    schema = Schema(type=OpenAPIType.ARRAY, items=item)
    return Param(name, parse, schema, description or "repeat it or give a comma list")


def ranges(*names: str) -> list[Param]:
    """`<name>_after` / `<name>_before` pairs: the seeds' date range vocabulary."""
    return [instant(f"{name}_{edge}") for name in names for edge in ("after", "before")]


MIN_POSITION = integer(
    "min_position",
    0,
    description=(
        "wait (up to 5 s, else 503 `projection_behind`) until the view has applied this "
        "position. Without it, a caller's read waits for its own last write (made in the last "
        "10 s, to this API process) up to FLOWLEDGER_READ_YOUR_WRITES_MS (default 2000; 0: "
        "off), then answers anyway with `X-Awaited-Position` naming that write"
    ),
)


def paging(order_by: Iterable[str], default: str) -> list[Param]:
    """`limit`, `offset` or `cursor`, `order_by` and `order`: on every list."""
    return [
        integer("limit", 1, MAX_LIMIT, f"page size, default {DEFAULT_LIMIT}"),
        integer("offset", 0, description="skip this many rows (or use cursor)"),
        text("cursor", "the previous page's next_cursor; stable while rows arrive"),
        choice("order_by", order_by, f"default {default}"),
        choice("order", ("asc", "desc"), "default desc"),
        boolean("count", "also answer `total`: how many rows match the filters (not the page)"),
    ]


@dataclass(frozen=True)
class Query:
    """Parsed values by parameter name; only the parameters the client gave."""

    values: Mapping[str, Any]

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)

    def pick(self, *names: str) -> dict[str, Any]:
        return {name: self.values[name] for name in names if name in self.values}

    @property
    def limit(self) -> int:
        return self.values.get("limit", DEFAULT_LIMIT)


@dataclass(frozen=True)
class QuerySpec:
    """What one endpoint accepts; anything else is a 422 naming it."""

    params: tuple[Param, ...]
    by_name: dict[str, Param] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {p.name: p for p in self.params})

    @classmethod
    def of(cls, *groups: Param | list[Param]) -> QuerySpec:
        flat = [p for g in groups for p in (g if isinstance(g, list) else [g])]
        return cls((*flat, MIN_POSITION))

    def parse(self, raw: Mapping[str, list[str]]) -> Query:
        values = {}
        for name in sorted(raw):
            param = self.by_name.get(name)
            if param is None:
                allowed = ", ".join(sorted(self.by_name))
                raise invalid(name, f"unknown query parameter {name!r}; allowed: {allowed}")
            values[name] = param.parse(name, raw[name])
        if "offset" in values and "cursor" in values:
            raise invalid("cursor", "give either offset or cursor, not both")
        return Query(values)

    def operation(self) -> type[Operation]:
        """An Operation class that documents these parameters (litestar sees none in signatures)."""
        documented = [p.openapi() for p in self.params]

        @dataclass
        class Documented(Operation):
            def __post_init__(self) -> None:
                self.parameters = [*(self.parameters or []), *documented]

        return Documented


def page_of(query: Query) -> Page:
    """The page a list query asks for, in the read models' terms."""
    return Page(
        limit=query.limit,
        offset=query.get("offset"),
        cursor=query.get("cursor"),
        order_by=query.get("order_by"),
        order=query.get("order", "desc"),
        count=query.get("count", False),
    )
