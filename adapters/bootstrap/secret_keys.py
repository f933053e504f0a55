"""`flowledger secrets rotate-key`: re-wrap every key the instance key wraps, under the new one."""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Callable

from adapters.platform.embedded import embedded_servers
from adapters.platform.settings import Settings, resolve_cipher_key
from adapters.secrets.rotation import Rewrapped, rotate_instance_key
from adapters.store.pool import open_pool


class OldKeyInvalid(ValueError):
    """The old key given is not a key."""


def decode_key(text: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise OldKeyInvalid(
            "the old key must be base64 text (as FLOWLEDGER_CIPHER_KEY is)"
        ) from None
    if len(raw) != 32:
        raise OldKeyInvalid("the old key must be the base64 of 32 bytes")
    return raw


def rotate_secret_keys(
    settings: Settings, old_key_text: str, *, log: Callable[[str], None]
) -> Rewrapped:
    """Every secret's data key, wrapped by `old_key_text`, re-wrapped by the configured key."""
    old_key = decode_key(old_key_text)
    new_key = base64.b64decode(resolve_cipher_key(settings))
    if old_key == new_key:
        raise OldKeyInvalid("the old key is the configured key: set the new FLOWLEDGER_CIPHER_KEY")

    async def rotate(database_url: str) -> Rewrapped:
        pool = await open_pool(database_url, max_size=2)
        try:
            return await rotate_instance_key(pool, old_key=old_key, new_key=new_key)
        finally:
            await pool.close()

    with embedded_servers(settings, log=log) as urls:
        return asyncio.run(rotate(urls.database_url))
