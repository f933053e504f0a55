"""A step's `matrix`: checking it, and expanding it into named instances as GitHub Actions does.

`matrix: {python: ["3.11", "3.12"], os: [linux, macos], include: [...], exclude: [...]}`:
every combination of the axes' values, less those matching an `exclude` entry (all of its
keys), then each `include` entry added to every combination whose original values it does
not overwrite, or made a combination of its own when it fits none
(docs.github.com/en/actions/using-jobs/using-a-matrix-for-your-jobs).

Each combination is one instance of the step, named `<step> (<key>=<value>, ...)` with the
keys in alphabetical order: the name is stable whatever order the axes were written in.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from domain.errors import InvalidValue
from domain.limits import (
    KEY_MAX,
    MATRIX_AXES_MAX,
    MATRIX_INSTANCES_MAX,
    MATRIX_VALUE_MAX,
    MATRIX_VALUES_MAX,
    PLAN_STEPS_MAX,
    clean,
)

MatrixValue = str | int | float | bool
Combination = dict[str, MatrixValue]
_LABEL = re.compile(r"[A-Za-z0-9_.:-]{1,100}")
PRODUCT_MAX = 16 * MATRIX_INSTANCES_MAX
"""Combinations of the axes before `exclude`: past this, expanding alone would be the cost."""
MATRIX_LISTS = ("include", "exclude")
"""Keys of `matrix` that hold lists of combinations rather than an axis's values."""


def label_axis(label: str) -> str | None:
    """The axis a `${{ matrix.<axis> }}` label names; None for a plain label."""
    if label.startswith("${{"):
        return label[3:-2].strip().removeprefix("matrix.")
    return None


def instance_label(label: str, combination: Mapping[str, MatrixValue]) -> str:
    """The label an instance's job goes to: `${{ matrix.os }}` becomes its `os` value."""
    axis = label_axis(label)
    return label if axis is None else value_text(combination[axis])


def value_text(value: MatrixValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def instance_name(step: str, combination: Mapping[str, MatrixValue]) -> str:
    pairs = ", ".join(f"{key}={value_text(combination[key])}" for key in sorted(combination))
    return f"{step} ({pairs})"


def check_matrix(
    step: str, matrix: Mapping[str, Any], max_parallel: int, labels: Sequence[str], at: str
) -> None:
    """InvalidValue, under `at.matrix` (or `.max_parallel`, `.labels`), for the first rule
    it breaks."""
    if not matrix:
        if max_parallel:
            raise InvalidValue(f"{at}.max_parallel", "only a step with a matrix has max_parallel")
        if templated := [label for label in labels if label_axis(label)]:
            raise InvalidValue(f"{at}.labels", f"{templated[0]!r}: this step has no matrix")
        return
    field = f"{at}.matrix"
    axes = {key: values for key, values in matrix.items() if key not in MATRIX_LISTS}
    if not axes and not matrix.get("include"):
        raise InvalidValue(field, "needs at least one axis (a key with a list of values)")
    if len(axes) > MATRIX_AXES_MAX:
        raise InvalidValue(field, f"at most {MATRIX_AXES_MAX} axes")
    for key, values in matrix.items():
        _check_list(key, values, f"{field}.{key}", combinations=key in MATRIX_LISTS)
    for i, entry in enumerate(matrix.get("exclude", ())):
        if unknown := sorted(set(entry) - axes.keys()):
            raise InvalidValue(f"{field}.exclude[{i}]", f"{unknown[0]!r} is not an axis")
    product = math.prod(len(values) for values in axes.values())
    if product > PRODUCT_MAX:
        # Refused before expanding: 8 axes of 32 values would be 2^40 combinations.
        raise InvalidValue(field, f"{product} combinations before exclude, at most {PRODUCT_MAX}")
    instances = expand(matrix)
    if not instances:
        raise InvalidValue(field, "excludes every combination: the step would never run")
    if len(instances) > MATRIX_INSTANCES_MAX:
        raise InvalidValue(
            field, f"expands into {len(instances)} instances, at most {MATRIX_INSTANCES_MAX}"
        )
    names = [instance_name(step, combination) for combination in instances]
    if len(set(names)) != len(names):
        duplicate = next(n for n in names if names.count(n) > 1)
        raise InvalidValue(field, f"two combinations are both named {duplicate!r}")
    if longest := max((n for n in names if len(n) > KEY_MAX), key=len, default=None):
        raise InvalidValue(field, f"instance name {longest!r} is over {KEY_MAX} characters")
    for label in labels:
        if (axis := label_axis(label)) is None:
            continue
        for combination in instances:
            if axis not in combination:
                raise InvalidValue(f"{at}.labels", f"{label!r}: some instance has no {axis!r}")
            if not _LABEL.fullmatch(instance_label(label, combination)):
                value = value_text(combination[axis])
                raise InvalidValue(f"{at}.labels", f"{label!r}: {value!r} is no runner label")


def _check_list(key: str, values: object, field: str, *, combinations: bool) -> None:
    if not isinstance(values, list | tuple) or (not values and not combinations):
        raise InvalidValue(field, "must be a non-empty list")
    if len(values) > MATRIX_VALUES_MAX:
        raise InvalidValue(field, f"at most {MATRIX_VALUES_MAX} entries")
    for value in values:
        if combinations:
            if not isinstance(value, Mapping) or not value:
                raise InvalidValue(field, "each entry must be a non-empty object of values")
            for inner_key, inner in value.items():
                if inner_key in MATRIX_LISTS:
                    raise InvalidValue(field, f"{inner_key!r} cannot be a key of an entry")
                _check_value(inner, f"{field}.{inner_key}")
        else:
            _check_value(value, field)
    if not combinations and len({_identity(v) for v in values}) != len(values):
        raise InvalidValue(field, f"{key}: a value is listed twice")


def _check_value(value: object, field: str) -> None:
    if not isinstance(value, str | int | float | bool):
        raise InvalidValue(field, "a matrix value is a string, number or boolean")
    text = value_text(value)
    clean(field, text)
    if not text.strip() or len(text) > MATRIX_VALUE_MAX:
        raise InvalidValue(field, f"{text!r}: 1 to {MATRIX_VALUE_MAX} characters as text")


def _identity(value: object) -> tuple[str, object]:
    return type(value).__name__, value


def expand(matrix: Mapping[str, Any]) -> list[Combination]:
    """The combinations, in a stable order: axes sorted by name, values as written."""
    axes = {key: tuple(v) for key, v in sorted(matrix.items()) if key not in MATRIX_LISTS}
    combinations: list[Combination] = []
    if axes:
        for values in itertools.product(*axes.values()):
            combination = dict(zip(axes, values, strict=True))
            if not any(_matches(combination, e) for e in matrix.get("exclude", ())):
                combinations.append(combination)
    originals = [dict(c) for c in combinations]
    for entry in matrix.get("include", ()):
        fitted = False
        for combination, original in zip(combinations, originals, strict=False):
            # An included key may overwrite what an earlier include added, never an axis value.
            if all(original.get(k, v) == v and _same_type(original.get(k, v), v)
                   for k, v in entry.items()):  # fmt: skip
                combination.update(entry)
                fitted = True
        if not fitted:
            combinations.append(dict(entry))
            originals.append(dict(entry))
    return combinations


def _matches(combination: Mapping[str, MatrixValue], entry: Mapping[str, MatrixValue]) -> bool:
    return all(k in combination and _identity(combination[k]) == _identity(v)
               for k, v in entry.items())  # fmt: skip


def _same_type(a: object, b: object) -> bool:
    return type(a) is type(b)


def check_plan_size(matrices: Sequence[Mapping[str, Any]]) -> None:
    """InvalidValue when the steps (each a matrix, or {} for one instance) expand past the
    limit of one run's plan."""
    total = sum(len(expand(matrix)) if matrix else 1 for matrix in matrices)
    if total > PLAN_STEPS_MAX:
        raise InvalidValue("steps", f"expand into {total} steps, at most {PLAN_STEPS_MAX}")
