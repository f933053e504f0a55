"""Checks of the free-form values a run carries: text, members, parameters, outputs, metrics."""

from __future__ import annotations

import math
from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar

from domain.errors import InvalidValue
from domain.limits import KEY_MAX, MAP_MAX, OUTPUT_VALUE_MAX, REASON_MAX, bounded_json, clean

E = TypeVar("E", bound=StrEnum)
ParamValue = str | int | float | bool

TEXT_MAX = REASON_MAX
OUTPUTS_MAX = MAP_MAX
METRICS_MAX = MAP_MAX


def valid_text(field: str, value: str, *, blank: bool = False, limit: int = TEXT_MAX) -> str:
    value = clean(field, value).strip()
    if not value and not blank:
        raise InvalidValue(field, "must not be blank")
    if len(value) > limit:
        raise InvalidValue(field, f"at most {limit} characters")
    return value


def valid_member(enum: type[E], field: str, value: str) -> E:
    try:
        return enum(value)
    except ValueError:
        raise InvalidValue(field, f"one of {', '.join(enum)}") from None


def valid_parameters(parameters: Mapping[str, ParamValue]) -> dict[str, ParamValue]:
    for key, value in parameters.items():
        valid_text("parameters", key, limit=KEY_MAX)
        if not isinstance(value, str | int | float | bool):
            raise InvalidValue(f"parameters.{key}", "must be a string, number or boolean")
        # JSON has no NaN or infinity: such a value would be stored as null and break replay.
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidValue(f"parameters.{key}", "must be a finite number")
    bounded_json("parameters", dict(parameters))
    return dict(parameters)


def valid_outputs(outputs: Mapping[str, str] | None) -> dict[str, str]:
    outputs = dict(outputs or {})
    if len(outputs) > OUTPUTS_MAX:
        raise InvalidValue("outputs", f"at most {OUTPUTS_MAX} keys")
    for key, value in outputs.items():
        valid_text("outputs", key, limit=KEY_MAX)
        if not isinstance(value, str):
            raise InvalidValue(f"outputs.{key}", "must be a string")
        clean(f"outputs.{key}", value)
        if len(value.encode()) > OUTPUT_VALUE_MAX:
            raise InvalidValue(f"outputs.{key}", f"at most {OUTPUT_VALUE_MAX} bytes of UTF-8")
    return outputs


def valid_metrics(metrics: Mapping[str, float] | None) -> dict[str, float]:
    metrics = dict(metrics or {})
    if len(metrics) > METRICS_MAX:
        raise InvalidValue("metrics", f"at most {METRICS_MAX} keys")
    for key, value in metrics.items():
        valid_text("metrics", key, limit=KEY_MAX)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidValue(f"metrics.{key}", "must be a number")
        if not math.isfinite(value) or value < 0:
            raise InvalidValue(f"metrics.{key}", "must be a finite number >= 0")
    return {key: float(value) for key, value in metrics.items()}
