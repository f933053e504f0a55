"""Approval steps and environment targets in a definition: the rules of their StepSpec fields.

A step of kind `approval` runs nothing: it pauses the run until a person decides (Buildkite's
block step). Its typed `inputs` reuse the parameter types; what the approver gives becomes the
step's outputs. A step naming an `environment` is held by that environment's protection rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal, Protocol

from domain.errors import InvalidValue
from domain.limits import DESCRIPTION_MAX, KEY_MAX, clean

StepKind = Literal["run", "approval", "jenkins"]
Decision = Literal["approve", "reject"]
DECISIONS = ("approve", "reject")
ENVIRONMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
ENVIRONMENT_RULE = "1-63 letters, digits, '_', '.' or '-', starting with a letter or digit"
APPROVERS_MAX = 50


class InputField(Protocol):
    """An approval step's input field: a `ParameterSpec` (reused, so the same types and rules)."""

    @property
    def name(self) -> str: ...
    @property
    def default(self) -> str | int | float | bool | None: ...
    @property
    def required(self) -> bool: ...
    def check(self, at: str) -> None: ...
    def accept(self, value: object, at: str) -> str | int | float | bool: ...


class GatedStep(Protocol):
    """The StepSpec fields this module checks (StepSpec imports this module, not the reverse)."""

    @property
    def kind(self) -> str: ...
    @property
    def run(self) -> str: ...
    @property
    def prompt(self) -> str: ...
    @property
    def inputs(self) -> tuple[InputField, ...]: ...
    @property
    def approvers(self) -> tuple[str, ...]: ...
    @property
    def on_timeout(self) -> str: ...
    @property
    def environment(self) -> str | None: ...


def check_approval_fields(step: GatedStep, at: str) -> None:
    """Raise InvalidValue for the first rule the step's approval or environment fields break."""
    if step.kind not in ("run", "approval", "jenkins"):
        raise InvalidValue(f"{at}.kind", "must be one of run, approval, jenkins")
    if step.kind == "approval" and step.run:
        raise InvalidValue(f"{at}.run", "an approval step runs nothing: leave run out")
    if step.kind != "approval":
        for field, value in (("prompt", step.prompt), ("inputs", step.inputs)):
            if value:
                raise InvalidValue(f"{at}.{field}", "only an approval step has one")
        if step.approvers and step.environment is None:
            raise InvalidValue(f"{at}.approvers", "only an approval step names approvers")
    clean(f"{at}.prompt", step.prompt)
    if len(step.prompt) > DESCRIPTION_MAX:
        raise InvalidValue(f"{at}.prompt", f"at most {DESCRIPTION_MAX} characters")
    check_approvers(step.approvers, f"{at}.approvers")
    names: set[str] = set()
    for i, field in enumerate(step.inputs):
        field.check(f"{at}.inputs[{i}]")
        if field.name in names:
            raise InvalidValue(f"{at}.inputs[{i}].name", f"duplicate input {field.name!r}")
        names.add(field.name)
        if step.on_timeout == "approve" and field.required:
            raise InvalidValue(
                f"{at}.on_timeout",
                f"approving on timeout needs no required input, but {field.name!r} is",
            )
    if step.on_timeout not in DECISIONS:
        raise InvalidValue(f"{at}.on_timeout", "must be approve or reject")
    if step.environment is not None:
        check_environment_name(step.environment, f"{at}.environment")


def check_approvers(approvers: tuple[str, ...], at: str, *, limit: int = APPROVERS_MAX) -> None:
    """Principals as `key:<api key id>` or `jwt:<subject>`, or a project's approver group as
    `group:<name>` (`domain/approver_group.py`), each listed once."""
    if len(approvers) > limit:
        raise InvalidValue(at, f"at most {limit} approvers")
    if len(set(approvers)) != len(approvers):
        raise InvalidValue(at, "an approver is listed twice")
    for approver in approvers:
        clean(at, approver)
        kind, _, rest = approver.partition(":")
        if kind == "group" and ENVIRONMENT_NAME.fullmatch(rest):
            continue
        if kind not in ("key", "jwt") or not rest.strip() or len(approver) > KEY_MAX:
            raise InvalidValue(
                at,
                f"{approver!r}: must be key:<api key id>, jwt:<subject> (at most 128) or "
                f"group:<name> ({ENVIRONMENT_RULE})",
            )


def check_environment_name(name: str, at: str) -> None:
    if not ENVIRONMENT_NAME.fullmatch(name):
        raise InvalidValue(at, f"{name!r}: must be {ENVIRONMENT_RULE}")


def resolve_inputs(
    fields: tuple[InputField, ...], given: Mapping[str, object], *, partial: bool = False
) -> dict[str, str]:
    """The approver's inputs checked against their fields, with defaults, as step outputs.

    Outputs are text, as a runner's are: booleans become `true`/`false`. `partial` (a
    rejection): only what was given is checked; nothing is required and no default added.
    """
    known = {field.name: field for field in fields}
    for name in given:
        if name not in known:
            raise InvalidValue(f"inputs.{name}", "unknown input")
    outputs: dict[str, str] = {}
    for name, field in known.items():
        if name in given:
            value = field.accept(given[name], f"inputs.{name}")
        elif partial:
            continue
        elif field.default is not None:
            value = field.default
        elif field.required:
            raise InvalidValue(f"inputs.{name}", "required")
        else:
            continue
        outputs[name] = as_text(value)
    return outputs


def as_text(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
