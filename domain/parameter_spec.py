"""A run parameter of a pipeline: its type, default, choices, and how a given value is checked."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Literal, assert_never

import msgspec
from msgspec import Meta

from domain.definition_checks import check_identifier, check_text, check_unique
from domain.errors import InvalidValue
from domain.limits import (
    DESCRIPTION_MAX,
    INT64_MAX,
    INT64_MIN,
    ITEMS_MAX,
    NAME_MAX,
    PARAM_TEXT_MAX,
    Choice,
    Description,
    Identifier,
    ParamScalar,
)

ParameterType = Literal["string", "integer", "number", "boolean", "choice"]
ParameterValue = str | int | float | bool

_PARAMETER_KIND = {
    "string": "a string",
    "integer": "an integer",
    "number": "a finite number",
    "boolean": "a boolean",
    "choice": "a string",
}


class ParameterSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A run parameter: its type, default, whether a run must give it, and the allowed choices."""

    name: Identifier
    type: ParameterType = "string"
    default: ParamScalar | None = None
    required: bool = False
    choices: Annotated[tuple[Choice, ...], Meta(max_length=ITEMS_MAX)] = ()
    description: Description = ""

    def check(self, at: str) -> None:
        """Raise InvalidValue, under the field path `at`, for the first rule it breaks."""
        check_identifier(self.name, f"{at}.name")
        if self.type not in _PARAMETER_KIND:
            raise InvalidValue(f"{at}.type", f"must be one of {', '.join(_PARAMETER_KIND)}")
        check_text(self.description, f"{at}.description", DESCRIPTION_MAX, blank=True)
        if self.type == "choice":
            if not self.choices:
                raise InvalidValue(f"{at}.choices", "a choice parameter needs choices")
            check_unique(self.choices, f"{at}.choices", "choice")
            for choice in self.choices:
                check_text(choice, f"{at}.choices", NAME_MAX)
        elif self.choices:
            raise InvalidValue(f"{at}.choices", "only a choice parameter has choices")
        if self.default is not None:
            # A default would make `required` meaningless: no run could ever omit it.
            if self.required:
                raise InvalidValue(f"{at}.default", "a required parameter has no default")
            self.accept(self.default, f"{at}.default")

    def accept(self, value: object, at: str) -> ParameterValue:
        """`value` if it is of this parameter's type; text is never parsed (`"3"` is no integer)."""
        match self.type:
            case "string" | "choice":
                ok = isinstance(value, str)
            case "integer":
                ok = isinstance(value, int) and not isinstance(value, bool)
            case "number":
                ok = not isinstance(value, bool) and (
                    isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))
                )
            case "boolean":
                ok = isinstance(value, bool)
            case _:
                assert_never(self.type)
        if not ok:
            raise InvalidValue(at, f"must be {_PARAMETER_KIND[self.type]}")
        if isinstance(value, str):
            check_text(value, at, PARAM_TEXT_MAX, blank=True)
        elif isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
            raise InvalidValue(at, "must fit in 64 bits")
        if self.type == "choice" and value not in self.choices:
            raise InvalidValue(at, f"must be one of {', '.join(self.choices)}")
        return value  # type: ignore[return-value]  # narrowed by `ok` above


def resolve_parameters(
    parameters: tuple[ParameterSpec, ...], given: Mapping[str, object]
) -> dict[str, ParameterValue]:
    """`given` checked against `parameters`, plus their defaults (see
    `PipelineDefinition.resolve_parameters`)."""
    known = {parameter.name: parameter for parameter in parameters}
    for name in given:
        if name not in known:
            raise InvalidValue(f"parameters.{name}", "unknown parameter")
    resolved: dict[str, ParameterValue] = {}
    for name, parameter in known.items():
        if name in given:
            resolved[name] = parameter.accept(given[name], f"parameters.{name}")
        elif parameter.default is not None:
            resolved[name] = parameter.default
        elif parameter.required:
            raise InvalidValue(f"parameters.{name}", "required")
    return resolved
