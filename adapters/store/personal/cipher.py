"""Sealed text: `pii:v1:<subject id>:<base64 nonce+ciphertext>`, AES-256-GCM per subject.

A string (not an object) so that a sealed value fits every field that held the clear text:
event schemas, metadata and the boundary's types stay as they are.

A long clear text (a webhook's raw body) is deflated before it is sealed: the store then parses,
hashes, writes and reads back a fifth of the bytes. The sealed bytes say which it is: deflated
ones start with 0xFF, which never starts UTF-8 text (and the tag covers that byte too).
They are a zlib stream, deflated by ISA-L (`isal`: a 8.8 KB push body in about a sixth of
zlib's level-1 CPU, and a little smaller); any zlib reads them, and the values zlib deflated
before read as they did.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import zlib
from functools import lru_cache

import pybase64
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from isal import isal_zlib
from zlib_ng import zlib_ng

PREFIX = "pii:v1:"
_NONCE = 12
_DEFLATED = b"\xff"
DEFLATE_FROM = 1024
"""Clear texts of this many bytes or more are deflated (when that makes them shorter); shorter
ones (names, e-mail addresses) would gain nothing."""
_LEVEL = 1  # of ISA-L's 0 to 3: a little smaller than zlib's level 1, at a sixth of its CPU


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def subject_of_sealed(value: str) -> str:
    return value[len(PREFIX) :].split(":", 1)[0]


def seal(subject_id: str, key: bytes, plain: str) -> str:
    nonce = os.urandom(_NONCE)
    # The subject id is bound as associated data: a ciphertext moved to another subject fails.
    sealed = AESGCM(key).encrypt(nonce, _packed(plain.encode()), subject_id.encode())
    return f"{PREFIX}{subject_id}:{pybase64.b64encode(nonce + sealed).decode('ascii')}"


def open_sealed(value: str, key: bytes) -> str | None:
    """The clear text, or None if `value` is damaged or not sealed under `key`."""
    return open_with(value, AESGCM(key))


def open_with(value: str, aead: AESGCM) -> str | None:
    """`open_sealed` with a cipher made once for many values of one subject."""
    subject_id, _, text = value[len(PREFIX) :].partition(":")
    try:
        # pybase64: the standard alphabet, strict as `base64.b64decode(validate=True)` (its
        # errors are ValueErrors too), in an eighth of its CPU on a sealed push body (2.5 KB).
        raw = b64decoded(text)
        opened = aead.decrypt(raw[:_NONCE], raw[_NONCE:], subject_id.encode())
        if opened.startswith(_DEFLATED):
            opened = _inflated(opened)
        return opened.decode()
    except (ValueError, InvalidTag, zlib.error, zlib_ng.error):
        return None


def b64decoded(text: str) -> bytes:
    """`base64.b64decode(text, validate=True)`, by pybase64 where it agrees: it refuses excess
    padding ("0000=") that base64 takes, and then base64 decides. ValueError if neither reads it."""
    try:
        return pybase64.b64decode(text, validate=True)
    except ValueError:
        return base64.b64decode(text, validate=True)


def _inflated(opened: bytes) -> bytes:
    """The zlib stream after the mark, inflated. AES-GCM's tag has checked every byte of it,
    so its Adler-32 is not computed again (raw inflate of what follows its 2-byte header:
    about a fifth of the inflate's instructions); a header naming a preset dictionary or
    another method, which no sealer here writes, is left to zlib as before.

    The raw inflate is zlib-ng's: the same stream format and the same answer (a property in
    tests/unit/test_sealed_values.py), in three quarters of zlib's instructions on a push body
    (94 against 125 thousand, callgrind); a damaged stream fails in both (`zlib_ng.error`)."""
    cmf, flg = opened[1:3]
    if cmf & 0x0F == 8 and not flg & 0x20:
        return zlib_ng.decompress(opened[3:], -15)
    return zlib.decompress(opened[1:])


def _packed(plain: bytes) -> bytes:
    if len(plain) < DEFLATE_FROM:
        return plain
    deflated = _DEFLATED + isal_zlib.compress(plain, _LEVEL)
    return deflated if len(deflated) < len(plain) else plain


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def wrap(instance_key: bytes, subject_id: str, data_key: bytes) -> str:
    nonce = os.urandom(_NONCE)
    sealed = AESGCM(instance_key).encrypt(nonce, data_key, subject_id.encode())
    return base64.b64encode(nonce + sealed).decode("ascii")


def unwrap(instance_key: bytes, subject_id: str, wrapped: str) -> bytes:
    return unwrap_with(AESGCM(instance_key), subject_id, wrapped)


def unwrap_with(aead: AESGCM, subject_id: str, wrapped: str) -> bytes:
    """As `unwrap`, with the instance key's AESGCM made once by the caller: every delivery
    unwraps its subject's key, and the AESGCM's key setup was a third of that."""
    raw = base64.b64decode(wrapped)
    return aead.decrypt(raw[:_NONCE], raw[_NONCE:], subject_id.encode())


def first_pepper(instance_key: bytes) -> bytes:
    """The subjects' pepper an instance starts with: derived from its first instance key, then
    kept (wrapped) in `instance_peppers`, so a later instance key does not change it."""
    return hashlib.sha256(b"flowledger data subjects\0" + instance_key).digest()


@lru_cache(maxsize=1024)
def keyed_hash(pepper: bytes, purpose: str, value: str) -> str:
    """A stable, keyed hash: the same person maps to one id, which says nothing without the key.

    Kept for the few people sending at once: each webhook delivery asks for its pusher's subject
    id and two handles (an HMAC in Python each, about 2 us). A pure function of its arguments:
    it holds the logins and addresses last asked for, as the sealing did, and no subject's key,
    so an erasure (which deletes keys) is unaffected."""
    digest = hmac.new(pepper, f"{purpose}\0{value}".encode(), hashlib.sha256).hexdigest()
    return digest[:32]


def subject_id(pepper: bytes, login: str) -> str:
    return "ds_" + keyed_hash(pepper, "login", login)


def handle(pepper: bytes, kind: str, value: str) -> str:
    normalized = value.strip().lower() if kind == "email" else value
    return keyed_hash(pepper, kind, normalized)
