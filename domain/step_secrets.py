"""A step's `secrets`: the names of project secrets it is given as environment variables.

Names only, never values: a definition is kept forever. A name need not exist yet when the
pipeline is defined; the attempt that needs a missing one fails, saying which.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from domain.errors import InvalidValue
from domain.secret import valid_secret_name


def check_step_secrets(secrets: Sequence[str], env: Collection[str], at: str) -> None:
    """InvalidValue, under `{at}.secrets`, for a bad, repeated or clashing name."""
    field = f"{at}.secrets"
    seen: set[str] = set()
    for name in secrets:
        valid_secret_name(field, name)
        if name in seen:
            raise InvalidValue(field, f"{name!r} is listed twice")
        if name in env:
            raise InvalidValue(
                field, f"{name!r} is also a key of env: a step's variable has one source"
            )
        seen.add(name)
