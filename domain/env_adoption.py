"""Moving plain `env` values of a pipeline into project secrets (`flowledger secrets adopt-env`).

Pure: given a definition and the keys to adopt, the next definition (those keys gone from
`env` and `not_secret`, named in `secrets`) and the values to store. Each key becomes the
secret of the same name, so the step sees the same variable. The events holding the old values
cannot be changed: `plain_values` finds them, to be reported.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

import msgspec

from domain.credentials import credential_kind
from domain.errors import InvalidValue
from domain.pipeline_definition import PipelineDefinition
from domain.step_spec import StepSpec


class Adoption(msgspec.Struct, frozen=True, kw_only=True):
    definition: PipelineDefinition
    """The next version: what the pipeline runs from now on."""
    values: dict[str, str]
    """Secret name to value, to be set before the next version is defined."""


def credential_keys(definition: PipelineDefinition) -> tuple[str, ...]:
    """The env keys that look like credentials and are not marked `not_secret`, sorted."""
    return tuple(
        sorted(
            {
                key
                for step in definition.steps
                for key, value in step.env.items()
                if key not in step.not_secret and credential_kind(value)
            }
        )
    )


def adopt(definition: PipelineDefinition, keys: Collection[str]) -> Adoption:
    """InvalidValue if a key is in no step's env, or holds different values in two steps."""
    values: dict[str, str] = {}
    for step in definition.steps:
        for key in keys:
            if key not in step.env:
                continue
            if key in values and values[key] != step.env[key]:
                raise InvalidValue(
                    "keys",
                    f"{key!r} holds different values in different steps: one secret cannot "
                    "be both; rename one of them first",
                )
            values[key] = step.env[key]
    if unknown := sorted(set(keys) - values.keys()):
        raise InvalidValue("keys", f"{unknown[0]!r} is in no step's env")
    steps = tuple(_moved(step, set(keys)) for step in definition.steps)
    return Adoption(definition=msgspec.structs.replace(definition, steps=steps), values=values)


def _moved(step: StepSpec, keys: set[str]) -> StepSpec:
    moved = [key for key in step.env if key in keys]
    if not moved:
        return step
    return msgspec.structs.replace(
        step,
        env={k: v for k, v in step.env.items() if k not in keys},
        not_secret=tuple(k for k in step.not_secret if k not in keys),
        secrets=(*step.secrets, *(k for k in moved if k not in step.secrets)),
    )


def plain_values(
    definitions: Iterable[tuple[Any, Mapping[str, Any]]], keys: Collection[str]
) -> list[tuple[Any, str, str]]:
    """(event reference, step, key) for each stored definition holding a plain value of a key.

    `definitions` pairs a reference to an event (its position, say) with the definition it
    stored, as JSON data.
    """
    found = []
    for ref, definition in definitions:
        for step in definition.get("steps", ()):
            for key in step.get("env", {}):
                if key in keys:
                    found.append((ref, str(step.get("name")), key))
    return found
