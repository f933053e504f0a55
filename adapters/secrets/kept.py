"""Webhook-source and subscription signing secrets, kept outside the events table.

An event holds `kept:v1:<ref>`: a reference to a row of `kept_secrets` (migration 0013), whose
value is encrypted under a data key of its own, wrapped by the instance key, so an instance key
rotation re-wraps it like every other key and no event holds even ciphertext of the secret.
Events written before hold the value sealed under the instance key itself (`SecretBox`): they
cannot change, so such a value is opened from the row kept for its sealed text
(`sealed_digest`, written by `restore_sealed`, which `secrets rotate-key` runs) when there is
one, else with the instance key directly.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import NoReturn
from uuid import UUID

import asyncpg

from adapters.platform.secrets import SecretBox, SecretUnsealError
from adapters.secrets import crypto

REF_PREFIX = "kept:v1:"


def digest_of(sealed: str) -> str:
    return hashlib.sha256(sealed.encode()).hexdigest()


def seal_row(instance_key: bytes, ref: UUID, plain: str) -> tuple[str, bytes]:
    """The wrapped data key and ciphertext of a kept value, bound to its ref."""
    # The secret store's envelope, with version 0: a kept value has one version, its ref.
    return crypto.seal(instance_key, ref, 0, plain)


def open_row(instance_key: bytes, ref: UUID, wrapped: str, ciphertext: bytes) -> str | None:
    return crypto.open_value(instance_key, ref, 0, wrapped, ciphertext)


class KeptSecrets:
    """`commands.ports.SecretSealer` and the read side's opener of what it sealed."""

    __slots__ = ("_box", "_instance_key", "_pool")

    def __init__(self, pool: asyncpg.Pool, instance_key: bytes, legacy: SecretBox) -> None:
        if len(instance_key) != 32:
            raise ValueError("the instance key must be 32 bytes (AES-256)")
        self._pool, self._instance_key, self._box = pool, instance_key, legacy

    def __repr__(self) -> str:
        return "KeptSecrets(instance_key=<redacted>)"

    def __reduce__(self) -> NoReturn:
        raise TypeError("KeptSecrets cannot be pickled")

    async def seal(self, plain: str) -> str:
        """Keep `plain`; the reference an event may hold instead of it. A reference whose event
        is never appended (a failed command) points at a random secret nobody holds."""
        ref = uuid.uuid4()
        wrapped, ciphertext = seal_row(self._instance_key, ref, plain)
        await self._pool.execute(
            "INSERT INTO kept_secrets (ref, wrapped_key, ciphertext) VALUES ($1, $2, $3)",
            ref,
            wrapped,
            ciphertext,
        )
        return f"{REF_PREFIX}{ref}"

    async def unseal(self, sealed: str) -> str:
        """The value an event's `sealed_secret` stands for; SecretUnsealError if unreadable."""
        if sealed.startswith(REF_PREFIX):
            try:
                ref = UUID(sealed[len(REF_PREFIX) :])
            except ValueError:
                raise SecretUnsealError("cannot unseal secret: a damaged reference") from None
            row = await self._pool.fetchrow(
                "SELECT ref, wrapped_key, ciphertext FROM kept_secrets WHERE ref = $1", ref
            )
        else:
            row = await self._pool.fetchrow(
                "SELECT ref, wrapped_key, ciphertext FROM kept_secrets WHERE sealed_digest = $1",
                digest_of(sealed),
            )
            if row is None:
                return self._box.unseal(sealed)  # an old event's value not kept yet
        if row is not None:
            value = open_row(self._instance_key, row["ref"], row["wrapped_key"], row["ciphertext"])
            if value is not None:
                return value
        raise SecretUnsealError("cannot unseal secret: not kept, or under another key")
