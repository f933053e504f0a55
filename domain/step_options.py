"""Step options for building software: a built-in `checkout`, a `queue_timeout_s`, and the
checks of a definition's templated fields against its `needs` graph."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Annotated, Protocol

import msgspec
from msgspec import Meta

from domain.errors import InvalidValue
from domain.templates import check_references

CHECKOUT_DEPTH_MAX = 1_000_000
CHECKOUT_PATH_MAX = 255


class CheckoutSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`checkout: {depth: 1, path: "src", submodules: false}`; `checkout: true` is all defaults.

    The repository and commit are the run's trigger's (`repository_url`, `sha`).
    """

    depth: Annotated[int, Meta(ge=0, le=CHECKOUT_DEPTH_MAX)] = 1
    """Commits of history to fetch; 0 fetches all of it."""
    path: Annotated[str, Meta(max_length=CHECKOUT_PATH_MAX)] = ""
    """Where in the step's working folder, relative; "" is the folder itself."""
    submodules: bool = False
    token_secret: Annotated[str, Meta(max_length=100)] | None = None
    """For a private repository over http(s): the project secret holding an access token,
    which the step must also list in its `secrets`. git gets it through GIT_ASKPASS, never in
    a URL, an argument or a log."""
    username: Annotated[str, Meta(max_length=100, pattern=r"^[A-Za-z0-9_.@-]+$")] = "x-access-token"
    """The user name sent with the token (GitHub takes any; GitLab `oauth2` for OAuth tokens)."""


class StepSpec(Protocol):
    """The fields of a pipeline step these checks read (domain.step_spec.StepSpec)."""

    @property
    def name(self) -> str: ...
    @property
    def run(self) -> str: ...
    @property
    def env(self) -> Mapping[str, str]: ...
    @property
    def checkout(self) -> bool | CheckoutSpec: ...
    @property
    def queue_timeout_s(self) -> int | None: ...
    @property
    def secrets(self) -> Sequence[str]: ...
    @property
    def jenkins(self) -> _WithParameters | None: ...


class _WithParameters(Protocol):
    @property
    def parameters(self) -> Mapping[str, str]: ...


class _Named(Protocol):
    @property
    def name(self) -> str: ...


class PipelineDefinition(Protocol):
    """What check_templates reads of a pipeline definition."""

    @property
    def steps(self) -> Sequence[StepSpec]: ...
    @property
    def parameters(self) -> Sequence[_Named]: ...
    def effective_needs(self, step: str) -> tuple[str, ...]: ...


def checkout_of(step: StepSpec) -> CheckoutSpec | None:
    """The step's checkout as a CheckoutSpec, or None when it has none."""
    if step.checkout is True:
        return CheckoutSpec()
    if isinstance(step.checkout, CheckoutSpec):
        return step.checkout
    return None


def check_step_options(step: StepSpec, at: str) -> None:
    """Raise InvalidValue, under `at`, for a checkout or queue timeout that cannot work."""
    if (spec := checkout_of(step)) is not None:
        check_checkout_path(spec.path, f"{at}.checkout.path")
        if spec.token_secret is not None and spec.token_secret not in step.secrets:
            raise InvalidValue(
                f"{at}.checkout.token_secret",
                f"{spec.token_secret!r} must also be listed in the step's secrets",
            )
    if step.queue_timeout_s is not None and not 1 <= step.queue_timeout_s <= 86_400:
        raise InvalidValue(f"{at}.queue_timeout_s", "must be an integer from 1 to 86400")


def check_checkout_path(path: str, field: str) -> None:
    if path == "":
        return
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts or "\x00" in path or "\\" in path:
        raise InvalidValue(field, "a relative path inside the working folder, without '..'")


def ancestors(needs: Mapping[str, tuple[str, ...]], step: str) -> set[str]:
    """Every step `step` waits for, directly or not."""
    seen: set[str] = set()
    todo = list(needs[step])
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(needs.get(name, ()))
    return seen


def check_templates(definition: PipelineDefinition) -> None:
    """Each `${{ }}` in a step's `run` and `env` values refers to a step it needs (transitively),
    a declared parameter or a trigger field; InvalidValue at the field path otherwise."""
    needs = {s.name: definition.effective_needs(s.name) for s in definition.steps}
    parameters = {p.name for p in definition.parameters}
    for i, step in enumerate(definition.steps):
        known = {"ancestors": ancestors(needs, step.name), "parameters": parameters,
                 "steps": needs.keys()}  # fmt: skip
        check_references(step.run, f"steps[{i}].run", **known)
        for key, value in step.env.items():
            check_references(value, f"steps[{i}].env.{key}", **known)
        for key, value in step.jenkins.parameters.items() if step.jenkins else ():
            check_references(value, f"steps[{i}].jenkins.parameters.{key}", **known)
