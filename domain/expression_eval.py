"""Evaluating expression trees as GitHub Actions does, and `${{ ... }}` templates in text.

Semantics follow docs.github.com/en/actions/learn-github-actions/expressions: `&&` and `||`
give one of their operands; `==`, `<`... compare loosely (values of different types are
compared as numbers, strings ignore case); a missing property is `null`; falsy are `false`,
`0`, `''`, `null` and NaN. Evaluation never raises: every tree the parser accepts has a value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from domain.expressions import (
    Binary,
    Call,
    ExpressionError,
    Index,
    Literal,
    Name,
    Node,
    Not,
    Property,
    parse,
)

TEMPLATE_MAX = 2000


@dataclass(frozen=True)
class Status:
    """What the status functions answer for one step (from its needs' outcomes)."""

    failed: bool = False
    """Some step it needs, directly or not, failed (a skip is not a failure)."""
    all_succeeded: bool = True
    """Every step it needs, directly or not, succeeded (or failed with allow_failure)."""
    cancelled: bool = False
    """The run is being cancelled."""


def evaluate(node: Node, context: Mapping[str, object], status: Status | None = None) -> object:
    status = status or Status()
    match node:
        case Literal(value):
            return value
        case Name(name):
            return context.get(name)
        case Property(target, name):
            return _member(evaluate(target, context, status), name)
        case Index(target, key):
            return _member(evaluate(target, context, status), evaluate(key, context, status))
        case Not(operand):
            return not truthy(evaluate(operand, context, status))
        case Binary("&&", left, right):
            first = evaluate(left, context, status)
            return evaluate(right, context, status) if truthy(first) else first
        case Binary("||", left, right):
            first = evaluate(left, context, status)
            return first if truthy(first) else evaluate(right, context, status)
        case Binary(operator, left, right):
            pair = evaluate(left, context, status), evaluate(right, context, status)
            return _compare(operator, *pair)
        case Call(function, arguments):
            values = [evaluate(a, context, status) for a in arguments]
            return _call(function, values, status)
    raise AssertionError(f"not a node: {node!r}")


def truthy(value: object) -> bool:
    if value is None or value is False or value == "":
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value != 0 and not math.isnan(value)
    return True


def text(value: object) -> str:
    """A value as GitHub turns it into text: `null` is '', booleans are lower case."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    if isinstance(value, Mapping | list | tuple):
        return "Object" if isinstance(value, Mapping) else "Array"
    return str(value)


def _number(value: object) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool | int | float):
        return float(value)
    if isinstance(value, str):
        stripped = value.strip()
        if not stripped:
            return 0.0
        try:
            if stripped.lower().startswith("0x"):
                return float(int(stripped, 16))
            return float(stripped)
        except ValueError:
            return math.nan
    return math.nan


def _member(target: object, key: object) -> object:
    if isinstance(target, Mapping):
        if not isinstance(key, str):
            return None
        if key in target:
            return target[key]
        folded = key.casefold()
        return next((v for k, v in target.items() if str(k).casefold() == folded), None)
    if isinstance(target, list | tuple) and isinstance(key, int | float) and key == int(key):
        index = int(key)
        return target[index] if 0 <= index < len(target) else None
    return None


def _compare(operator: str, left: object, right: object) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        a: object = left.casefold()
        b: object = right.casefold()
    elif isinstance(left, Mapping | list | tuple) or isinstance(right, Mapping | list | tuple):
        same = left is right
        return same if operator == "==" else (not same if operator == "!=" else False)
    else:
        a, b = _number(left), _number(right)
    match operator:
        case "==":
            return a == b
        case "!=":
            return a != b
        case "<":
            return a < b  # type: ignore[operator]
        case "<=":
            return a <= b  # type: ignore[operator]
        case ">":
            return a > b  # type: ignore[operator]
        case ">=":
            return a >= b  # type: ignore[operator]
    raise AssertionError(f"not an operator: {operator}")


def _call(function: str, values: Sequence[object], status: Status) -> object:
    match function:
        case "contains":
            search, item = values
            if isinstance(search, list | tuple):
                return any(_compare("==", element, item) for element in search)
            return text(item).casefold() in text(search).casefold()
        case "startsWith":
            return text(values[0]).casefold().startswith(text(values[1]).casefold())
        case "endsWith":
            return text(values[0]).casefold().endswith(text(values[1]).casefold())
        case "success":
            return status.all_succeeded and not status.cancelled
        case "failure":
            return status.failed
        case "always":
            return True
        case "cancelled":
            return status.cancelled
    raise AssertionError(f"not a function: {function}")


def template_parts(template: str) -> list[str | Node]:
    """The template as literal text and parsed `${{ ... }}` expressions, in order."""
    if len(template) > TEMPLATE_MAX:
        raise ExpressionError(TEMPLATE_MAX, f"longer than {TEMPLATE_MAX} characters")
    parts: list[str | Node] = []
    at = 0
    while (start := template.find("${{", at)) >= 0:
        if start > at:
            parts.append(template[at:start])
        end = _closing(template, start + 3)
        inner = template[start + 3 : end]
        try:
            parts.append(parse(inner, status_functions=False))
        except ExpressionError as error:
            raise ExpressionError(start + 3 + error.position, error.message) from None
        at = end + 2
    if at < len(template):
        parts.append(template[at:])
    return parts


def _closing(template: str, at: int) -> int:
    quoted = False
    for index in range(at, len(template)):
        char = template[index]
        if char == "'":
            quoted = not quoted  # '' inside a string toggles twice: still inside
        elif not quoted and template.startswith("}}", index):
            return index
    raise ExpressionError(at - 3, "'${{' is never closed by '}}'")


def render(template: str, context: Mapping[str, object]) -> str:
    """The template with each `${{ expression }}` replaced by its value as text."""
    return "".join(
        part if isinstance(part, str) else text(evaluate(part, context))
        for part in template_parts(template)
    )
