"""Rules about the moments the caller hands the domain."""

from __future__ import annotations

from datetime import datetime

from domain.errors import InvalidValue


def require_aware(value: datetime, field: str = "at") -> None:
    # A naive time would be read back as a different instant on another machine.
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidValue(field, "must be timezone-aware")
