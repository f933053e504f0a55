"""Envelope encryption of one secret version: a fresh AES-256-GCM data key per version, wrapped
by the instance key (FLOWLEDGER_CIPHER_KEY), both bound to the secret and version they belong to
(associated data), so a row copied onto another secret or version does not open."""

from __future__ import annotations

import hashlib
import hmac
import os
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from adapters.store.personal import cipher

_NONCE = 12


def binding(secret_id: UUID, version: int) -> str:
    return f"secret:{secret_id}:{version}"


def seal(instance_key: bytes, secret_id: UUID, version: int, value: str) -> tuple[str, bytes]:
    """The wrapped fresh data key and the value encrypted under it."""
    bound = binding(secret_id, version)
    data_key = cipher.new_data_key()
    nonce = os.urandom(_NONCE)
    ciphertext = AESGCM(data_key).encrypt(nonce, value.encode(), bound.encode())
    return cipher.wrap(instance_key, bound, data_key), nonce + ciphertext


def open_value(
    instance_key: bytes, secret_id: UUID, version: int, wrapped: str, ciphertext: bytes
) -> str | None:
    """The value, or None if `instance_key` did not wrap its data key (or a byte changed)."""
    bound = binding(secret_id, version)
    try:
        data_key = cipher.unwrap(instance_key, bound, wrapped)
        raw = AESGCM(data_key).decrypt(ciphertext[:_NONCE], ciphertext[_NONCE:], bound.encode())
    except (ValueError, InvalidTag):
        return None
    return raw.decode()


def rewrap(
    old_key: bytes, new_key: bytes, secret_id: UUID, version: int, wrapped: str
) -> str | None:
    """The data key wrapped by `new_key`, or None if `old_key` did not wrap it."""
    bound = binding(secret_id, version)
    try:
        data_key = cipher.unwrap(old_key, bound, wrapped)
    except (ValueError, InvalidTag):
        return None
    return cipher.wrap(new_key, bound, data_key)


def fingerprint(instance_key: bytes, secret_id: UUID, value: str) -> str:
    """HMAC-SHA256 of the value under a key derived from the instance key: without that key it
    says nothing of the value, however short or guessable the value is."""
    mac_key = hashlib.sha256(b"flowledger secret fingerprints\0" + instance_key).digest()
    digest = hmac.new(mac_key, f"{secret_id}\0{value}".encode(), hashlib.sha256).hexdigest()
    return f"hmac-sha256:{digest[:32]}"
