"""Credential-looking env values: refused in a new definition unless declared not secret."""

from __future__ import annotations

import pytest

from domain.credentials import credential_kind, shannon_entropy
from domain.errors import InvalidValue
from domain.pipeline_definition import PipelineDefinition
from domain.step_spec import StepSpec

# Built from parts, so no scanner mistakes this file for one holding real tokens.
LOOKS_LIKE = [
    "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
    "github_pat_" + "11ABCDEFG0123456789_abcdefghijklmnop",
    "glpat-" + "xYz123AbC456dEf789gH",
    "xoxb-" + "1234567890-abcdefghij",
    "AKIA" + "IOSFODNN7EXAMPLE",
    "-----BEGIN OPENSSH " + "PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----",
    "-----BEGIN " + "PRIVATE KEY-----",
    "postgres://app:" + "hunter2@db.internal:5432/app",
    "token is " + "Zk3pQ9vX2mL7wR4tY8uB1nC6",
]
PLAIN = [
    "hello",
    "staging",
    "https://example.com/path/to/thing",
    "/usr/local/bin:/usr/bin",
    "da39a3ee5e6b4b0d3255bfef95601890afd80709",  # a sha1: hex, entropy <= 4
    "release-2024-01-15-hotfix-for-login",
    "The quick brown fox jumps over the lazy dog",
    "registry.example.com/team/image:1.2.3",
    "",
]


@pytest.mark.parametrize("value", LOOKS_LIKE)
def test_known_shapes_and_random_tokens_look_like_credentials(value: str) -> None:
    assert credential_kind(value) is not None


@pytest.mark.parametrize("value", PLAIN)
def test_ordinary_values_do_not(value: str) -> None:
    assert credential_kind(value) is None


def test_entropy_of_uniform_and_constant_text() -> None:
    assert shannon_entropy("aaaa") == 0
    assert shannon_entropy("abcd") == 2
    assert shannon_entropy("") == 0


def defined(env: dict[str, str], not_secret: tuple[str, ...] = ()) -> PipelineDefinition:
    step = StepSpec(name="deploy", run="make deploy", env=env, not_secret=not_secret)
    return PipelineDefinition(name="CD", steps=(step,)).validated()


def test_a_definition_with_a_credential_in_env_is_refused_pointing_at_secrets() -> None:
    with pytest.raises(InvalidValue) as caught:
        defined({"MODE": "ci", "TOKEN": LOOKS_LIKE[0]})

    assert caught.value.field == "steps[0].env"
    assert "'TOKEN'" in caught.value.reason and "secret" in caught.value.reason
    assert LOOKS_LIKE[0] not in str(caught.value)  # the refusal never echoes the value


def test_a_key_declared_not_secret_is_kept_as_written() -> None:
    kept = defined({"AWS_ACCESS_KEY_ID": LOOKS_LIKE[4]}, not_secret=("AWS_ACCESS_KEY_ID",))

    assert kept.steps[0].env == {"AWS_ACCESS_KEY_ID": LOOKS_LIKE[4]}


@pytest.mark.parametrize(
    ("not_secret", "reason"), [(("NOPE",), "not a key"), (("A", "A"), "listed twice")]
)
def test_not_secret_names_each_env_key_once(not_secret: tuple[str, ...], reason: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        defined({"A": "x"}, not_secret=not_secret)

    assert caught.value.field == "steps[0].not_secret"
    assert reason in caught.value.reason
