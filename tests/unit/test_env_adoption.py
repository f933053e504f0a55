"""Planning `adopt-env`: the next definition moves env values into secrets, nothing else."""

from __future__ import annotations

import pytest

from domain.env_adoption import adopt, credential_keys, plain_values
from domain.errors import InvalidValue
from domain.pipeline_definition import PipelineDefinition
from domain.step_spec import StepSpec

TOKEN = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"


def definition(*steps: StepSpec) -> PipelineDefinition:
    return PipelineDefinition(name="ci", steps=steps)


def test_the_credential_looking_keys_are_adopted_into_secrets_of_the_same_name() -> None:
    old = definition(
        StepSpec(name="build", run="make", env={"TOKEN": TOKEN, "MODE": "release"}),
        StepSpec(name="ship", run="./ship", env={"TOKEN": TOKEN}, secrets=("OTHER",)),
    )

    keys = credential_keys(old)
    planned = adopt(old, keys)

    assert keys == ("TOKEN",)
    assert planned.values == {"TOKEN": TOKEN}
    build, ship = planned.definition.steps
    assert (build.env, build.secrets) == ({"MODE": "release"}, ("TOKEN",))
    assert (ship.env, ship.secrets) == ({}, ("OTHER", "TOKEN"))
    planned.definition.validated()  # the next version passes the credential check


def test_a_key_marked_not_secret_may_be_adopted_and_leaves_not_secret() -> None:
    old = definition(
        StepSpec(name="up", run="./up", env={"KEY_ID": "AKIA" + "X" * 16}, not_secret=("KEY_ID",))
    )

    assert credential_keys(old) == ()
    [step] = adopt(old, ["KEY_ID"]).definition.steps

    assert (step.env, step.not_secret, step.secrets) == ({}, (), ("KEY_ID",))


def test_two_values_under_one_key_or_an_unknown_key_are_refused() -> None:
    old = definition(
        StepSpec(name="a", run="x", env={"K": "one"}),
        StepSpec(name="b", run="y", env={"K": "two"}),
    )

    with pytest.raises(InvalidValue, match="different values"):
        adopt(old, ["K"])
    with pytest.raises(InvalidValue, match="in no step"):
        adopt(old, ["NOPE"])


def test_the_stored_definitions_still_holding_a_plain_value_are_found() -> None:
    stored = [
        (1, {"steps": [{"name": "a", "env": {"K": "v", "M": "m"}}]}),
        (5, {"steps": [{"name": "a", "env": {"M": "m"}}, {"name": "b", "env": {"K": "v"}}]}),
        (9, {"steps": [{"name": "a", "env": {}}]}),
    ]

    assert plain_values(stored, {"K"}) == [(1, "a", "K"), (5, "b", "K")]
