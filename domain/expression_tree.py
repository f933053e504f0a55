"""Expression trees: printed back as text, walked, and asked what they read."""

from __future__ import annotations

from domain.expressions import (
    STATUS_FUNCTIONS,
    Binary,
    Call,
    Index,
    Literal,
    Name,
    Node,
    Not,
    Property,
)


def unparse(node: Node) -> str:
    """Text that parses back to the same tree (fully parenthesised where it matters)."""
    match node:
        case Literal(value):
            if value is None or isinstance(value, bool):
                return {None: "null", True: "true", False: "false"}[value]
            if isinstance(value, str):
                return "'" + value.replace("'", "''") + "'"
            return repr(value)
        case Name(name):
            return name
        case Property(target, name):
            return f"{_target(target)}.{name}"
        case Index(target, key):
            return f"{_target(target)}[{unparse(key)}]"
        case Not(operand):
            return f"(!{unparse(operand)})"
        case Binary(operator, left, right):
            return f"({unparse(left)} {operator} {unparse(right)})"
        case Call(function, arguments):
            return f"{function}({', '.join(unparse(a) for a in arguments)})"


def _target(node: Node) -> str:
    # `1.x` would read as the number `1.` then a name: a literal target gets parentheses.
    return f"({unparse(node)})" if isinstance(node, Literal) else unparse(node)


def walk(node: Node) -> list[Node]:
    """Every node of the tree, parents before children."""
    found, stack = [], [node]
    while stack:
        item = stack.pop()
        found.append(item)
        match item:
            case Property(target, _) | Not(target):
                stack.append(target)
            case Index(target, key):
                stack += [key, target]
            case Binary(_, left, right):
                stack += [right, left]
            case Call(_, arguments):
                stack += reversed(arguments)
    return found


def step_references(node: Node) -> set[str]:
    """The step names the tree reads (`steps.x...` or `steps['x']...`)."""
    names: set[str] = set()
    for item in walk(node):
        match item:
            case Property(Name("steps"), name) | Index(Name("steps"), Literal(str() as name)):
                names.add(name)
    return names


def uses_status(node: Node) -> bool:
    """Whether a status function appears: without one, `success() &&` is implied."""
    return any(isinstance(n, Call) and n.function in STATUS_FUNCTIONS for n in walk(node))
