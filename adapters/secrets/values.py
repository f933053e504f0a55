"""The command side's secret store (`commands.ports.SecretValues`) on PostgreSQL."""

from __future__ import annotations

import uuid
from uuid import UUID

import asyncpg

from adapters.secrets import crypto


class PgSecretValues:
    __slots__ = ("_instance_key", "_pool")

    def __init__(self, pool: asyncpg.Pool, instance_key: bytes) -> None:
        if len(instance_key) != 32:
            raise ValueError("the instance key must be 32 bytes (AES-256)")
        self._pool = pool
        self._instance_key = instance_key

    def __repr__(self) -> str:
        return "PgSecretValues(instance_key=<redacted>)"

    def fingerprint(self, secret_id: UUID, value: str) -> str:
        return crypto.fingerprint(self._instance_key, secret_id, value)

    async def stage(self, secret_id: UUID, project_id: UUID, version: int, value: str) -> UUID:
        token = uuid.uuid4()
        wrapped, ciphertext = crypto.seal(self._instance_key, secret_id, version, value)
        await self._pool.execute(
            "INSERT INTO secret_values (token, secret_id, project_id, version, wrapped_key,"
            " ciphertext) VALUES ($1, $2, $3, $4, $5, $6)",
            token,
            secret_id,
            project_id,
            version,
            wrapped,
            ciphertext,
        )
        return token

    async def commit(self, secret_id: UUID, token: UUID, version: int) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("UPDATE secret_values SET committed = true WHERE token = $1", token)
            # Older versions (and values staged for them by writers that lost) are destroyed:
            # only the newest value can be revealed, so nothing older needs to be kept.
            await conn.execute(
                "DELETE FROM secret_values WHERE secret_id = $1 AND version < $2",
                secret_id,
                version,
            )

    async def discard(self, token: UUID) -> None:
        await self._pool.execute("DELETE FROM secret_values WHERE token = $1", token)

    async def shred(self, secret_id: UUID, upto_version: int) -> None:
        # Up to the deleted version only: a value staged for the next version (a set racing
        # the delete) belongs to an event that comes after the deletion.
        await self._pool.execute(
            "DELETE FROM secret_values WHERE secret_id = $1 AND version <= $2",
            secret_id,
            upto_version,
        )
