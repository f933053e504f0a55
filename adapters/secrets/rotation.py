"""Instance key rotation: every key the instance key wraps, re-wrapped in one transaction.

That is the secret store's data keys (`secret_values`), the data subjects' keys
(`data_subject_keys`), the webhook-source and subscription secrets (`kept_secrets`) and the
subjects' pepper (`instance_peppers`). First, the signing secrets that old events still hold
sealed under the old instance key itself are kept in `kept_secrets` (`restore_sealed`), found
from then on by their sealed text: those events cannot change, and without this they would be
unreadable once the old key is gone. Only wrappings change: values, ciphertexts and every event
stay byte for byte as they are. All or nothing: a failure leaves every row under the old key.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable

import asyncpg
import msgspec
from cryptography.exceptions import InvalidTag

from adapters.platform.secrets import SecretBox, SecretUnsealError
from adapters.secrets import crypto, kept
from adapters.store.personal import cipher

SEALED_IN = {
    "WebhookSourceRegistered": ("sealed_secret",),
    "WebhookSecretRotated": ("sealed_secret", "previous_sealed_secret"),
    "SubscriptionCreated": ("sealed_secret",),
}
"""Where events hold a signing secret (sealed by older versions, a reference since)."""


class Rewrapped(msgspec.Struct, frozen=True, kw_only=True):
    rewrapped: int
    """Keys moved from the old key to the new one."""
    already: int
    """Keys the new key wraps already (a second run, or one written after the switch)."""
    unreadable: int
    """Keys neither key opens: they stay as they are, and say so."""
    restored: int = 0
    """Old events' sealed signing secrets newly kept in `kept_secrets`."""


class Restored(msgspec.Struct, frozen=True, kw_only=True):
    restored: int
    already: int
    unreadable: int


async def restore_sealed(conn: asyncpg.Connection, *, open_key: bytes, wrap_key: bytes) -> Restored:
    """Keep every signing secret events hold sealed (opened with `open_key`) in `kept_secrets`
    under `wrap_key`, keyed by the sealed text's digest. Idempotent."""
    box = SecretBox(base64.b64encode(open_key).decode())
    rows = await conn.fetch(
        "SELECT type, data::text AS data FROM events WHERE type = ANY($1::text[])",
        list(SEALED_IN),
    )
    # A secret retired (its grace period over, or rotated again) was deleted on purpose.
    retired = set(
        await conn.fetchval(
            "SELECT coalesce(array_agg(data->>'sealed_secret'), '{}') FROM events"
            " WHERE type = 'WebhookPreviousSecretRetired'"
        )
    )
    restored = already = unreadable = 0
    for row in rows:
        data = msgspec.json.decode(row["data"])
        for field in SEALED_IN[row["type"]]:
            sealed = data.get(field)
            if not isinstance(sealed, str) or sealed.startswith(kept.REF_PREFIX):
                continue
            if sealed in retired:
                continue
            digest = kept.digest_of(sealed)
            if await conn.fetchval("SELECT 1 FROM kept_secrets WHERE sealed_digest = $1", digest):
                already += 1
                continue
            try:
                plain = box.unseal(sealed)
            except SecretUnsealError:
                unreadable += 1
                continue
            ref = uuid.uuid4()
            wrapped, ciphertext = kept.seal_row(wrap_key, ref, plain)
            await conn.execute(
                "INSERT INTO kept_secrets (ref, wrapped_key, ciphertext, sealed_digest)"
                " VALUES ($1, $2, $3, $4)",
                ref,
                wrapped,
                ciphertext,
                digest,
            )
            restored += 1
    return Restored(restored=restored, already=already, unreadable=unreadable)


async def rotate_instance_key(pool: asyncpg.Pool, *, old_key: bytes, new_key: bytes) -> Rewrapped:
    if len(old_key) != 32 or len(new_key) != 32:
        raise ValueError("instance keys are 32 bytes (AES-256)")
    counts = [0, 0, 0]
    async with pool.acquire() as conn, conn.transaction():
        # Rows written meanwhile wait for the commit: nothing is re-wrapped from a stale read.
        await conn.execute(
            "LOCK TABLE secret_values, data_subject_keys, kept_secrets, instance_peppers"
            " IN SHARE ROW EXCLUSIVE MODE"
        )
        restored = await restore_sealed(conn, open_key=old_key, wrap_key=new_key)
        tables = (
            ("secret_values", "token", "wrapped_key", _secret_binding),
            ("data_subject_keys", "subject_id", "wrapped_key", _subject_binding),
            ("kept_secrets", "ref", "wrapped_key", _kept_binding),
            ("instance_peppers", "purpose", "wrapped", _pepper_binding),
        )
        for table, key, column, binding in tables:
            for i, n in enumerate(
                await _rewrap(conn, table, key, column, binding, old_key, new_key)
            ):
                counts[i] += n
    return Rewrapped(
        rewrapped=counts[0], already=counts[1], unreadable=counts[2], restored=restored.restored
    )


Binding = Callable[[asyncpg.Record], str]


def _secret_binding(row: asyncpg.Record) -> str:
    return crypto.binding(row["secret_id"], row["version"])


def _kept_binding(row: asyncpg.Record) -> str:
    return crypto.binding(row["ref"], 0)


def _subject_binding(row: asyncpg.Record) -> str:
    return row["subject_id"]


def _pepper_binding(row: asyncpg.Record) -> str:
    return row["purpose"]


async def _rewrap(
    conn: asyncpg.Connection,
    table: str,
    key: str,
    column: str,
    binding: Binding,
    old_key: bytes,
    new_key: bytes,
) -> tuple[int, int, int]:
    rewrapped = already = unreadable = 0
    for row in await conn.fetch(f"SELECT * FROM {table}"):
        bound, wrapped = binding(row), row[column]
        if _opens(new_key, bound, wrapped):
            already += 1
            continue
        if not _opens(old_key, bound, wrapped):
            unreadable += 1
            continue
        moved = cipher.wrap(new_key, bound, cipher.unwrap(old_key, bound, wrapped))
        await conn.execute(
            f"UPDATE {table} SET {column} = $1 WHERE {key} = $2",
            moved,
            row[key],
        )
        rewrapped += 1
    return rewrapped, already, unreadable


def _opens(instance_key: bytes, bound: str, wrapped: str) -> bool:
    try:
        cipher.unwrap(instance_key, bound, wrapped)
    except (ValueError, InvalidTag):
        return False
    return True
