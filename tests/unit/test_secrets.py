"""The secret helpers: API key tokens and hashes, webhook secrets, and the sealing box."""

from __future__ import annotations

import base64
import copy
import pickle
import re
from uuid import UUID

import pytest

from adapters.platform.secrets import (
    SecretBox,
    SecretUnsealError,
    api_key_prefix,
    hash_api_key_secret,
    new_api_key,
    new_webhook_secret,
    parse_api_key,
    verify_api_key_secret,
)

KEY_ID = UUID("0195f1d0-0000-7000-8000-0000000000a1")
PLAIN = "whsec-correct-horse-battery-staple"


@pytest.fixture
def box() -> SecretBox:
    return SecretBox(SecretBox.generate_key())


def test_a_new_api_key_names_its_id_and_hashes_its_secret() -> None:
    token, secret_hash = new_api_key(KEY_ID)

    assert re.fullmatch(rf"flk_{KEY_ID.hex}_[A-Za-z0-9_-]{{43}}", token)
    assert token.startswith(api_key_prefix(KEY_ID) + "_")
    parsed = parse_api_key(token)
    assert parsed is not None
    key_id, secret = parsed
    assert key_id == KEY_ID
    assert len(base64.urlsafe_b64decode(secret + "=")) == 32
    assert secret_hash == hash_api_key_secret(secret)
    assert secret not in secret_hash
    assert verify_api_key_secret(secret, secret_hash)


def test_every_new_api_key_has_its_own_secret() -> None:
    tokens = {new_api_key(KEY_ID)[0] for _ in range(50)}
    assert len(tokens) == 50


def test_the_hash_is_sha256_hex_and_deterministic() -> None:
    assert hash_api_key_secret("s") == hash_api_key_secret("s")
    assert re.fullmatch(r"[0-9a-f]{64}", hash_api_key_secret("s"))
    assert hash_api_key_secret("s") != hash_api_key_secret("t")


def test_a_wrong_secret_or_a_malformed_hash_does_not_verify() -> None:
    _, secret_hash = new_api_key(KEY_ID)
    assert not verify_api_key_secret("A" * 43, secret_hash)
    assert not verify_api_key_secret("A" * 43, "")
    assert not verify_api_key_secret("A" * 43, "é" * 64)


SECRET = "Ab-_" * 10 + "xyz"
HEX = KEY_ID.hex


def test_a_secret_containing_underscores_parses_whole() -> None:
    assert parse_api_key(f"flk_{HEX}_{SECRET}") == (KEY_ID, SECRET)


@pytest.mark.parametrize(
    "token",
    [
        "",
        f"flk_{HEX}",
        f"flk_{HEX}_",
        f"flx_{HEX}_{SECRET}",
        f"FLK_{HEX}_{SECRET}",
        f"flk_{HEX.upper()}_{SECRET}",
        f"flk_{HEX[:-1]}_{SECRET}",
        f"flk_{KEY_ID}_{SECRET}",
        f"flk_{HEX}_{SECRET[:-1]}",
        f"flk_{HEX}_{SECRET}A",
        f"flk_{HEX}_{SECRET}=",
        f"flk_{HEX}_{SECRET[:-1]}+",
        f"flk_{HEX}_{SECRET}\n",
        f" flk_{HEX}_{SECRET}",
        f"Bearer flk_{HEX}_{SECRET}",
    ],
)
def test_a_token_of_any_other_shape_does_not_parse(token: str) -> None:
    assert parse_api_key(token) is None


def test_new_webhook_secrets_are_url_safe_random_and_distinct() -> None:
    made = {new_webhook_secret() for _ in range(50)}
    assert len(made) == 50
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43}", s) for s in made)


def test_sealing_then_unsealing_gives_the_text_back(box: SecretBox) -> None:
    assert box.unseal(box.seal(PLAIN)) == PLAIN
    assert box.unseal(box.seal("")) == ""
    assert box.unseal(box.seal("clé ✓")) == "clé ✓"


def test_sealing_the_same_text_twice_gives_different_texts(box: SecretBox) -> None:
    assert box.seal(PLAIN) != box.seal(PLAIN)


def test_the_sealed_text_does_not_contain_the_secret(box: SecretBox) -> None:
    sealed = box.seal(PLAIN)
    assert PLAIN not in sealed
    assert PLAIN.encode() not in base64.b64decode(sealed)
    assert sealed.isascii() and sealed.isprintable()


@pytest.mark.parametrize("at", [0, 12, 28, -1], ids=["nonce", "tag", "ciphertext", "last"])
def test_a_tampered_sealed_text_does_not_unseal(box: SecretBox, at: int) -> None:
    raw = bytearray(base64.b64decode(box.seal(PLAIN)))
    raw[at] ^= 0x01
    with pytest.raises(SecretUnsealError) as caught:
        box.unseal(base64.b64encode(bytes(raw)).decode())
    assert PLAIN not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


@pytest.mark.parametrize(
    "sealed", ["", "not base64!", "AAAA", "é", base64.b64encode(b"x" * 27).decode()]
)
def test_garbage_does_not_unseal(box: SecretBox, sealed: str) -> None:
    with pytest.raises(SecretUnsealError):
        box.unseal(sealed)


def test_a_text_sealed_under_another_key_does_not_unseal(box: SecretBox) -> None:
    other = SecretBox(SecretBox.generate_key())
    with pytest.raises(SecretUnsealError, match="wrong key"):
        other.unseal(box.seal(PLAIN))


def test_the_box_never_shows_its_key() -> None:
    key = SecretBox.generate_key()
    box = SecretBox(key)
    raw = base64.b64decode(key)
    for shown in (repr(box), str(box), f"{box}", f"{box!r}"):
        assert key not in shown and raw.hex() not in shown
        assert "redacted" in shown
    with pytest.raises(TypeError):
        pickle.dumps(box)
    with pytest.raises(TypeError):
        copy.copy(box)


def test_generated_keys_are_random_aes_256_keys() -> None:
    keys = {SecretBox.generate_key() for _ in range(10)}
    assert len(keys) == 10
    assert all(len(base64.b64decode(k, validate=True)) == 32 for k in keys)


@pytest.mark.parametrize(
    "key",
    [
        "",
        "not base64 at all!",
        base64.b64encode(b"k" * 16).decode(),
        base64.b64encode(b"k" * 31).decode(),
        base64.b64encode(b"k" * 33).decode(),
    ],
)
def test_a_bad_key_is_refused_without_echoing_it(key: str) -> None:
    with pytest.raises(ValueError) as caught:
        SecretBox(key)
    assert not key or key not in str(caught.value)
