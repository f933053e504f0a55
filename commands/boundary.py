"""The one boundary every command crosses: its fields checked against their declared limits.

Whoever sends a command (a REST route, a webhook delivery, MCP, the CLI, a runner, the
dispatcher) hands the bus a Struct built from anything at all; the Struct's constructor
checks nothing. Converting it once more through its own type applies every `Meta` limit of
`domain.limits`, so a value no read model can hold is refused here, named, before a handler
loads or decides anything (so nothing is written).
"""

from __future__ import annotations

import re
from typing import TypeVar

import msgspec

from domain.errors import InvalidValue

C = TypeVar("C")
_AT = re.compile(r"^(?P<reason>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)


def checked(command: C) -> C:
    """`command` as its type reads it, or InvalidValue naming the first field past a limit."""
    if not isinstance(command, msgspec.Struct):
        return command
    try:
        return msgspec.convert(msgspec.to_builtins(command), type(command))
    except (msgspec.ValidationError, TypeError, ValueError) as error:
        raise invalid_value(error) from None


def invalid_value(error: Exception) -> InvalidValue:
    """A msgspec error (`Expected ... - at `$.a[0].b``) as InvalidValue at `a[0].b`."""
    found = _AT.match(str(error))
    reason, path = (found["reason"], found["path"]) if found else (str(error), None)
    return InvalidValue((path or "").lstrip(".") or "command", reason)
