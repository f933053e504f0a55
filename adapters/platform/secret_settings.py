"""The rules of the settings that are secrets: never echoed, not even in part."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

from adapters.platform.setting_values import Parse

JWT_SECRET_MIN = 32
CIPHER_KEY_BYTES = 32  # AES-256: what adapters.platform.secrets.SecretBox accepts


def check_cipher_key(raw: str, _cwd: Path) -> str:
    try:
        size = len(base64.b64decode(raw, validate=True))
    except (binascii.Error, ValueError):
        size = -1
    if size != CIPHER_KEY_BYTES:
        raise ValueError(
            f"expected the base64 encoding of {CIPHER_KEY_BYTES} random bytes "
            "(e.g. the output of `openssl rand -base64 32`)"
        )
    return raw


def _jwt_secret(raw: str, _cwd: Path) -> str:
    if len(raw) < JWT_SECRET_MIN:
        raise ValueError(f"expected at least {JWT_SECRET_MIN} characters (HS256 secret)")
    return raw


def _token(raw: str, _cwd: Path) -> str:
    if any(c.isspace() for c in raw):
        raise ValueError("expected an API key token (no spaces)")
    return raw


SECRET_SETTINGS: dict[str, Parse] = {
    "jwt_secret": _jwt_secret,
    "cipher_key": check_cipher_key,
    "api_key": _token,
    "runner_token": _token,
}
SECRET_FIELDS = frozenset(SECRET_SETTINGS)
"""Never echoed in an error message, not even in part."""
