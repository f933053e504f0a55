"""Instance key rotation for the secret store: every data key re-wrapped under the new key.

Only the wrapping changes: values, their ciphertexts and every event stay as they are. Each
row is updated only if it still holds the wrapping that was read, so a value set or deleted
meanwhile is never overwritten with a stale one.
"""

from __future__ import annotations

import asyncpg
import msgspec

from adapters.secrets import crypto


class Rewrapped(msgspec.Struct, frozen=True, kw_only=True):
    rewrapped: int
    """Rows moved from the old key to the new one."""
    already: int
    """Rows the new key wraps already (a second run, or a value set after the switch)."""
    unreadable: int
    """Rows neither key opens: they stay as they are, and say so."""


async def rewrap_secret_values(
    pool: asyncpg.Pool, *, old_key: bytes, new_key: bytes, batch: int = 500
) -> Rewrapped:
    if len(old_key) != 32 or len(new_key) != 32:
        raise ValueError("instance keys are 32 bytes (AES-256)")
    rewrapped = already = unreadable = 0
    after = None
    while True:
        rows = await pool.fetch(
            "SELECT token, secret_id, version, wrapped_key FROM secret_values"
            " WHERE $1::uuid IS NULL OR token > $1 ORDER BY token LIMIT $2",
            after,
            batch,
        )
        if not rows:
            return Rewrapped(rewrapped=rewrapped, already=already, unreadable=unreadable)
        after = rows[-1]["token"]
        for row in rows:
            secret_id, version, wrapped = row["secret_id"], row["version"], row["wrapped_key"]
            if crypto.rewrap(new_key, new_key, secret_id, version, wrapped) is not None:
                already += 1
                continue
            moved = crypto.rewrap(old_key, new_key, secret_id, version, wrapped)
            if moved is None:
                unreadable += 1
                continue
            await pool.execute(
                "UPDATE secret_values SET wrapped_key = $1 WHERE token = $2 AND wrapped_key = $3",
                moved,
                row["token"],
                wrapped,
            )
            rewrapped += 1
