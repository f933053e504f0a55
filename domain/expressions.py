"""The expression language of `if:` and `${{ ... }}`: a tokenizer and a recursive-descent parser.

The grammar is GitHub Actions' (docs.github.com/en/actions/learn-github-actions/expressions),
lowest precedence first:

    or       := and ( "||" and )*
    and      := equality ( "&&" equality )*
    equality := compare ( ( "==" | "!=" ) compare )*
    compare  := unary ( ( "<" | "<=" | ">" | ">=" ) unary )*
    unary    := "!" unary | postfix
    postfix  := primary ( "." NAME | "[" or "]" )*
    primary  := literal | NAME | NAME "(" [ or ( "," or )* ] ")" | "(" or ")"
    literal  := null | true | false | number | 'string' ('' is a quote inside one)

Names are looked up in the contexts (`trigger`, `params`, `branch`, `steps`, `matrix`);
functions are `contains`, `startsWith`, `endsWith` and, in conditions only, the status
functions `success()`, `failure()`, `always()`, `cancelled()`. Any text either parses or
raises `ExpressionError` with the 0-based character position of the problem.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

EXPRESSION_MAX = 2000
"""Characters in one expression (also `domain.limits.CONDITION_MAX`)."""
DEPTH_MAX = 40
"""Nesting of parentheses, calls, indexes and `!`: deeper is refused, never a RecursionError."""
NUMBER_MAX = 2**63 - 1
CONTEXTS = frozenset({"trigger", "params", "branch", "steps", "matrix"})
STATUS_FUNCTIONS = frozenset({"success", "failure", "always", "cancelled"})
FUNCTIONS = {"contains": 2, "startsWith": 2, "endsWith": 2} | dict.fromkeys(STATUS_FUNCTIONS, 0)

Scalar = str | int | float | bool | None


class ExpressionError(ValueError):
    """The text is no valid expression; `position` is the 0-based index of the problem."""

    def __init__(self, position: int, message: str) -> None:
        self.position = position
        self.message = message
        super().__init__(f"at character {position + 1}: {message}")


@dataclass(frozen=True)
class Literal:
    value: Scalar


@dataclass(frozen=True)
class Name:
    name: str


@dataclass(frozen=True)
class Property:
    target: Node
    name: str


@dataclass(frozen=True)
class Index:
    target: Node
    key: Node


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class Binary:
    operator: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Call:
    function: str
    arguments: tuple[Node, ...]


Node = Literal | Name | Property | Index | Not | Binary | Call

_TOKEN = re.compile(
    r"""(?P<space>\s+)
      | (?P<number>-?(?:0x[0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?))
      | (?P<string>'(?:[^']|'')*')
      | (?P<name>[A-Za-z_][A-Za-z0-9_-]*)
      | (?P<op>&&|\|\||==|!=|<=|>=|[<>!().\[\],])""",
    re.VERBOSE,
)
_LEVELS = (("||",), ("&&",), ("==", "!="), ("<", "<=", ">", ">="))
_KEYWORDS = {"true": True, "false": False, "null": None}


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    at: int


def _tokens(text: str) -> list[_Token]:
    found: list[_Token] = []
    at = 0
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None:
            if text[at] == "'":
                raise ExpressionError(at, "unterminated string")
            raise ExpressionError(at, f"unexpected character {text[at]!r}")
        kind = match.lastgroup or ""
        if kind != "space":
            found.append(_Token(kind, match.group(), at))
        at = match.end()
    found.append(_Token("end", "", len(text)))
    return found


def parse(text: str, *, status_functions: bool = True) -> Node:
    """The expression's tree; ExpressionError (with a position) for anything else."""
    if len(text) > EXPRESSION_MAX:
        raise ExpressionError(EXPRESSION_MAX, f"longer than {EXPRESSION_MAX} characters")
    parser = _Parser(_tokens(text), status_functions)
    if parser.peek().kind == "end":
        raise ExpressionError(0, "empty expression")
    node = parser.expression(0)
    token = parser.peek()
    if token.kind != "end":
        raise ExpressionError(token.at, f"unexpected {token.text!r}")
    return node


def strip_braces(text: str) -> tuple[str, int]:
    """`if:` may be written bare or as `${{ ... }}`: the inner text and where it starts."""
    stripped = text.strip()
    if stripped.startswith("${{") and stripped.endswith("}}"):
        start = text.index("${{") + 3
        return stripped[3:-2], start
    return text, 0


def parse_condition(text: str) -> Node:
    """An `if:` condition, bare or in `${{ }}`; positions count in `text` as written."""
    inner, offset = strip_braces(text)
    try:
        return parse(inner)
    except ExpressionError as error:
        raise ExpressionError(error.position + offset, error.message) from None


class _Parser:
    def __init__(self, tokens: list[_Token], status_functions: bool) -> None:
        self._tokens, self._at, self._depth = tokens, 0, 0
        self._status_functions = status_functions

    def peek(self) -> _Token:
        return self._tokens[self._at]

    def _take(self) -> _Token:
        token = self._tokens[self._at]
        self._at += 1
        return token

    def _expect(self, text: str) -> _Token:
        token = self._take()
        if token.text != text or token.kind not in ("op",):
            found = "the end" if token.kind == "end" else repr(token.text)
            raise ExpressionError(token.at, f"expected {text!r}, found {found}")
        return token

    def _deeper(self, at: int) -> None:
        self._depth += 1
        if self._depth > DEPTH_MAX:
            raise ExpressionError(at, f"nested deeper than {DEPTH_MAX} levels")

    def expression(self, level: int) -> Node:
        if level == len(_LEVELS):
            return self._unary()
        node = self.expression(level + 1)
        while self.peek().kind == "op" and self.peek().text in _LEVELS[level]:
            operator = self._take().text
            node = Binary(operator, node, self.expression(level + 1))
        return node

    def _unary(self) -> Node:
        token = self.peek()
        if token.kind == "op" and token.text == "!":
            self._take()
            self._deeper(token.at)
            node: Node = Not(self._unary())
            self._depth -= 1
            return node
        return self._postfix()

    def _postfix(self) -> Node:
        node = self._primary()
        while self.peek().kind == "op" and self.peek().text in (".", "["):
            token = self._take()
            if token.text == ".":
                name = self._take()
                if name.kind != "name":
                    raise ExpressionError(name.at, "expected a property name after '.'")
                node = Property(node, name.text)
            else:
                self._deeper(token.at)
                node = Index(node, self.expression(0))
                self._expect("]")
                self._depth -= 1
        return node

    def _primary(self) -> Node:
        token = self._take()
        if token.kind == "number":
            return Literal(_number(token))
        if token.kind == "string":
            return Literal(token.text[1:-1].replace("''", "'"))
        if token.kind == "name":
            if token.text in _KEYWORDS:
                return Literal(_KEYWORDS[token.text])
            if self.peek().text == "(" and self.peek().kind == "op":
                return self._call(token)
            if token.text not in CONTEXTS:
                known = ", ".join(sorted(CONTEXTS))
                raise ExpressionError(token.at, f"unknown name {token.text!r} (known: {known})")
            return Name(token.text)
        if token.kind == "op" and token.text == "(":
            self._deeper(token.at)
            node = self.expression(0)
            self._expect(")")
            self._depth -= 1
            return node
        found = "the end" if token.kind == "end" else repr(token.text)
        raise ExpressionError(token.at, f"expected a value, found {found}")

    def _call(self, name: _Token) -> Node:
        arity = FUNCTIONS.get(name.text)
        if arity is None or (name.text in STATUS_FUNCTIONS and not self._status_functions):
            raise ExpressionError(name.at, f"unknown function {name.text!r}")
        opening = self._expect("(")
        self._deeper(opening.at)
        arguments: list[Node] = []
        if not (self.peek().kind == "op" and self.peek().text == ")"):
            arguments.append(self.expression(0))
            while self.peek().kind == "op" and self.peek().text == ",":
                self._take()
                arguments.append(self.expression(0))
        self._expect(")")
        self._depth -= 1
        if len(arguments) != arity:
            raise ExpressionError(
                name.at, f"{name.text}() takes {arity} argument(s), got {len(arguments)}"
            )
        return Call(name.text, tuple(arguments))


def _number(token: _Token) -> int | float:
    text = token.text
    value: int | float
    if "0x" in text:
        value = int(text.replace("0x", ""), 16)
    elif re.fullmatch(r"-?\d+", text):
        value = int(text)
    else:
        value = float(text)
    if not (math.isfinite(value) and -NUMBER_MAX <= value <= NUMBER_MAX):
        raise ExpressionError(token.at, "number out of range")
    return value
