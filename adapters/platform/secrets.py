"""Secrets at the edge: API key tokens and their hashes, webhook secrets, sealing them at rest."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from typing import NoReturn
from uuid import UUID

from eventsourcing.cipher import AESCipher
from eventsourcing.utils import Environment

API_KEY_PREFIX = "flk"
_SECRET_BYTES = 32
# `flk_<key id, 32 hex>_<secret: 32 random bytes, base64url without padding = 43 chars>`.
# The secret's alphabet includes '_', so the token is matched whole, never split on '_'.
_API_KEY = re.compile(rf"{API_KEY_PREFIX}_([0-9a-f]{{32}})_([A-Za-z0-9_-]{{43}})")


class SecretUnsealError(Exception):
    """A sealed secret could not be opened: wrong key, or damaged or tampered text."""


def api_key_prefix(key_id: UUID) -> str:
    """The non-secret start of a key's token, shown in listings to recognise the key."""
    return f"{API_KEY_PREFIX}_{key_id.hex}"


def new_api_key(key_id: UUID) -> tuple[str, str]:
    """A fresh token for `key_id`, to show once, and the hash to store: `(token, secret_hash)`."""
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    return f"{api_key_prefix(key_id)}_{secret}", hash_api_key_secret(secret)


def parse_api_key(token: str) -> tuple[UUID, str] | None:
    """`(key id, secret)` of a presented token, or None if it is not exactly of our shape."""
    match = _API_KEY.fullmatch(token)
    if match is None:
        return None
    return UUID(hex=match[1]), match[2]


def hash_api_key_secret(secret: str) -> str:
    # A slow KDF (bcrypt, argon2) makes guessing low-entropy passwords costly; this secret is
    # 256 random bits, beyond any guessing, so one fast SHA-256 is as safe and keeps each
    # authenticated request cheap.
    return hashlib.sha256(secret.encode()).hexdigest()


def verify_api_key_secret(secret: str, expected_hash: str) -> bool:
    """Whether `secret` hashes to `expected_hash`, compared in constant time."""
    return hmac.compare_digest(hash_api_key_secret(secret).encode(), expected_hash.encode())


def new_webhook_secret() -> str:
    """A fresh webhook secret: 32 random bytes, URL-safe text (43 characters)."""
    return secrets.token_urlsafe(_SECRET_BYTES)


class SecretBox:
    """Seals secrets with AES-256-GCM (a fresh nonce each time) to keep them in events.

    Its key never appears in `repr()` or `str()`, and it refuses to be pickled.
    """

    __slots__ = ("_cipher",)

    def __init__(self, key: str) -> None:
        try:
            raw = base64.b64decode(key, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("SecretBox key: not base64 text") from None
        if len(raw) != 32:
            raise ValueError("SecretBox key: must be 32 bytes (AES-256), base64-encoded")
        self._cipher = AESCipher(Environment(env={AESCipher.CIPHER_KEY: key}))

    @staticmethod
    def generate_key() -> str:
        """A new random AES-256 key, base64-encoded, for settings."""
        return AESCipher.create_key(32)

    def seal(self, plain: str) -> str:
        """Base64 text of nonce, tag and ciphertext; sealing the same text twice differs."""
        return base64.b64encode(self._cipher.encrypt(plain.encode())).decode("ascii")

    def unseal(self, sealed: str) -> str:
        try:
            return self._cipher.decrypt(base64.b64decode(sealed, validate=True)).decode()
        except ValueError:  # binascii.Error, a failed GCM tag check, UnicodeDecodeError
            # Raised afresh: the original's message or context must not reach a log.
            raise SecretUnsealError("cannot unseal secret: wrong key, or damaged text") from None

    def __repr__(self) -> str:
        return "SecretBox(key=<redacted>)"

    def __reduce__(self) -> NoReturn:
        # A pickle (a cache, a process pool) would carry the raw key out of this process.
        raise TypeError("SecretBox cannot be pickled")
