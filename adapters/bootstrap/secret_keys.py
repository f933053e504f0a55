"""`flowledger secrets rotate-key`: re-wrap every key the instance key wraps, under the new one."""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Callable

from adapters.platform.cipher_key import resolve_cipher_key
from adapters.platform.embedded import embedded_servers
from adapters.platform.settings import Settings
from adapters.secrets.rotation import Restored, Rewrapped, restore_sealed, rotate_instance_key
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


def keep_sealed_secrets(settings: Settings, *, log: Callable[[str], None]) -> Restored:
    """The signing secrets old events hold sealed, kept in `kept_secrets` under the configured
    key, so a later rotation covers them even once the events' key is gone."""
    key = base64.b64decode(resolve_cipher_key(settings))

    async def keep(database_url: str) -> Restored:
        pool = await open_pool(database_url, max_size=2)
        try:
            async with pool.acquire() as conn, conn.transaction():
                return await restore_sealed(conn, open_key=key, wrap_key=key)
        finally:
            await pool.close()

    with embedded_servers(settings, log=log) as urls:
        return asyncio.run(keep(urls.database_url))
