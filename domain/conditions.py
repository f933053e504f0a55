"""A step's `if:` at definition time: it must parse, and read only steps it (indirectly) needs."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from domain.errors import InvalidValue
from domain.expression_tree import step_references
from domain.expressions import ExpressionError, Node, parse_condition
from domain.limits import CONDITION_MAX, clean


def check_condition(condition: str, at: str) -> Node | None:
    """The parsed condition (None when there is none); a parse error is an InvalidValue
    naming the character position, counted from 1 in the text as written."""
    if not condition.strip():
        return None
    clean(at, condition)
    if len(condition) > CONDITION_MAX:
        raise InvalidValue(at, f"at most {CONDITION_MAX} characters")
    try:
        return parse_condition(condition)
    except ExpressionError as error:
        raise InvalidValue(at, f"invalid expression {error}") from None


def ancestors(step: str, needs_of: Callable[[str], Iterable[str]]) -> set[str]:
    """Every step `step` needs, directly or not."""
    found: set[str] = set()
    stack = list(needs_of(step))
    while stack:
        name = stack.pop()
        if name not in found:
            found.add(name)
            stack.extend(needs_of(name))
    return found


def check_references(
    steps: Iterable[tuple[int, str, str]], needs_of: Callable[[str], Iterable[str]]
) -> None:
    """Each (index, name, condition) may read `steps.<x>` only of a step it needs."""
    for index, name, condition in steps:
        tree = check_condition(condition, f"steps[{index}].if")
        if tree is None:
            continue
        if strangers := sorted(step_references(tree) - ancestors(name, needs_of)):
            raise InvalidValue(
                f"steps[{index}].if",
                f"reads steps.{strangers[0]}, which {name!r} does not need (directly or not): "
                "add it to needs",
            )
