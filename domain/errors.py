"""Domain errors: each broken rule has its own class and a stable machine `code`."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A command was refused by the domain; nothing was decided, so nothing is written."""

    code = "domain_error"


class IllegalTransition(DomainError):
    """The aggregate's current state does not allow the attempted transition."""

    code = "illegal_transition"

    def __init__(self, aggregate: str, current_state: str, attempted: str) -> None:
        self.aggregate = aggregate
        self.current_state = current_state
        self.attempted = attempted
        super().__init__(f"cannot {attempted} a {aggregate} that is {current_state}")


class InvalidValue(DomainError):
    """A command argument breaks a rule of the domain (which field, and why)."""

    code = "invalid_value"

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class AggregateNotFound(DomainError):
    """No stream of the requested kind exists for that id (at that version)."""

    code = "not_found"

    def __init__(self, aggregate: str, id: Any, version: int | None = None) -> None:
        self.aggregate = aggregate
        self.id = id
        self.version = version
        at = "" if version is None else f" at version {version}"
        super().__init__(f"{aggregate} {id} not found{at}")
