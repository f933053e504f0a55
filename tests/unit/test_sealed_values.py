"""Sealed personal values: a long clear text is deflated under the seal, and opens as it was."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import zlib
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st
from isal import isal_zlib
from zlib_ng import zlib_ng

from adapters.store.personal import cipher

PUSH = Path(__file__).parents[1] / "fixtures" / "webhooks" / "github" / "push.branch-created.json"


def sealed_bytes(value: str) -> int:
    return len(base64.b64decode(value.rsplit(":", 1)[1]))


def test_a_webhook_body_is_sealed_deflated_and_opens_exactly() -> None:
    key = cipher.new_data_key()
    body = PUSH.read_text()
    sealed = cipher.seal("ds_a", key, body)
    assert cipher.is_sealed(sealed)
    assert sealed_bytes(sealed) < len(body.encode()) / 3
    assert cipher.open_sealed(sealed, key) == body
    assert cipher.open_sealed(sealed, cipher.new_data_key()) is None


def test_short_texts_are_sealed_as_they_are() -> None:
    key = cipher.new_data_key()
    for plain in ("alice", "alice@example.com", "ä" * (cipher.DEFLATE_FROM // 2 - 1)):
        sealed = cipher.seal("ds_b", key, plain)
        # nonce + clear text + tag: nothing added, nothing deflated
        assert sealed_bytes(sealed) == 12 + len(plain.encode()) + 16
        assert cipher.open_sealed(sealed, key) == plain


def test_a_clear_text_starting_like_the_deflated_mark_stays_text() -> None:
    key = cipher.new_data_key()
    plain = "\u00ff" + "x" * 2 * cipher.DEFLATE_FROM  # UTF-8 of U+00FF starts with 0xC3, not 0xFF
    assert cipher.open_sealed(cipher.seal("ds_c", key, plain), key) == plain


def test_a_value_deflated_by_zlib_before_isal_still_opens() -> None:
    key = cipher.new_data_key()
    body = PUSH.read_text()
    nonce = os.urandom(12)
    packed = b"\xff" + zlib.compress(body.encode(), 1)
    old = AESGCM(key).encrypt(nonce, packed, b"ds_d")
    sealed = f"{cipher.PREFIX}ds_d:{base64.b64encode(nonce + old).decode('ascii')}"
    assert cipher.open_sealed(sealed, key) == body


def test_a_deflated_body_is_a_zlib_stream_any_zlib_reads() -> None:
    key = cipher.new_data_key()
    body = PUSH.read_text()
    raw = base64.b64decode(cipher.seal("ds_e", key, body).rsplit(":", 1)[1])
    opened = AESGCM(key).decrypt(raw[:12], raw[12:], b"ds_e")
    assert opened[:1] == b"\xff"
    assert zlib.decompress(opened[1:]).decode() == body


def sealed_as(key: bytes, subject: str, packed: bytes) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, packed, subject.encode())
    return f"{cipher.PREFIX}{subject}:{base64.b64encode(nonce + sealed).decode('ascii')}"


KEY = cipher.new_data_key()


@settings(max_examples=200)
@given(plain=st.text(max_size=3000), level=st.integers(-1, 9), by_isal=st.booleans())
def test_any_deflated_text_opens_as_it_was(plain: str, level: int, by_isal: bool) -> None:
    data = plain.encode()
    packed = isal_zlib.compress(data, max(level, 0) % 4) if by_isal else zlib.compress(data, level)
    assert cipher.open_sealed(sealed_as(KEY, "ds_f", b"\xff" + packed), KEY) == plain
    assert cipher.open_sealed(cipher.seal("ds_f", KEY, plain), KEY) == plain


def test_a_zlib_stream_with_a_preset_dictionary_is_left_to_zlib() -> None:
    deflater = zlib.compressobj(zdict=b"refs/heads/")
    packed = b"\xff" + deflater.compress(b"refs/heads/main") + deflater.flush()
    assert cipher.open_sealed(sealed_as(KEY, "ds_g", packed), KEY) is None  # as before: no zdict


@given(packed=st.binary(max_size=40))
def test_a_damaged_deflated_text_opens_to_nothing(packed: bytes) -> None:
    sealed = sealed_as(KEY, "ds_h", b"\xff" + packed)
    try:
        expected = zlib.decompress(packed).decode()
    except (zlib.error, ValueError):
        expected = None
    opened = cipher.open_sealed(sealed, KEY)
    assert opened == expected or (expected is None and opened is not None and _raw_only(packed))


def _zlib_raw(stream: bytes) -> bytes | None:
    try:
        return zlib.decompress(stream, -15)
    except zlib.error:
        return None


@settings(max_examples=300)
@given(
    plain=st.one_of(st.binary(max_size=4000), st.text(max_size=3000).map(str.encode)),
    level=st.integers(0, 9),
    by_isal=st.booleans(),
    cut=st.integers(0, 64),
    flips=st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(1, 255)), max_size=3),
)
def test_the_raw_inflate_answers_as_zlibs(
    plain: bytes, level: int, by_isal: bool, cut: int, flips: list[tuple[int, int]]
) -> None:
    """zlib-ng's raw inflate (`cipher._inflated`) against zlib's, which it replaced: the same
    bytes for every stream zlib reads, and an error for every stream zlib refuses (cut short
    or with bytes flipped)."""
    packed = isal_zlib.compress(plain, level % 4) if by_isal else zlib.compress(plain, level)
    stream = bytearray(packed[2:])
    for at, mask in flips:
        if stream:
            stream[at % len(stream)] ^= mask
    damaged = bytes(stream[: max(len(stream) - cut, 0)] if cut else stream)
    expected = _zlib_raw(damaged)
    try:
        inflated: bytes | None = zlib_ng.decompress(damaged, -15)
    except zlib_ng.error:
        inflated = None
    assert inflated == expected
    if not flips and not cut:
        assert expected == plain
        assert cipher._inflated(b"\xff" + packed) == plain


def _raw_only(packed: bytes) -> bool:
    """A stream whose only fault is its Adler-32 (AES-GCM's tag stands for it now)."""
    try:
        zlib.decompress(packed[2:], -15)
    except zlib.error:
        return False
    return True


@given(text=st.text(alphabet="ABCabc012+/=\n é-_", max_size=16))
def test_sealed_text_is_read_strictly_as_standard_base64(text: str) -> None:
    try:
        expected = base64.b64decode(text, validate=True)
    except ValueError:
        expected = None
    try:
        read = cipher.b64decoded(text)
    except ValueError:
        read = None
    assert read == expected


@given(
    pepper=st.binary(min_size=32, max_size=32),
    purpose=st.sampled_from(["login", "email"]),
    values=st.lists(st.text(max_size=80), min_size=1, max_size=6),
)
def test_a_kept_keyed_hash_is_the_hmac_of_its_arguments(
    pepper: bytes, purpose: str, values: list[str]
) -> None:
    # `keyed_hash` keeps its answers: each, asked again (or under another pepper), is the HMAC.
    for value in values + values:
        for key in (pepper, bytes(reversed(pepper))):
            expected = hmac.new(key, f"{purpose}\0{value}".encode(), hashlib.sha256).hexdigest()
            assert cipher.keyed_hash(key, purpose, value) == expected[:32]


@given(data_key=st.binary(min_size=32, max_size=32), subject=st.text(max_size=40))
def test_a_key_unwrapped_with_a_kept_cipher_is_the_one_wrapped(
    data_key: bytes, subject: str
) -> None:
    instance_key = AESGCM.generate_key(bit_length=256)
    wrapped = cipher.wrap(instance_key, subject, data_key)
    aead = AESGCM(instance_key)
    assert cipher.unwrap_with(aead, subject, wrapped) == data_key
    assert cipher.unwrap(instance_key, subject, wrapped) == data_key
