"""The data subjects' keys, outside the events table: created on first use, deleted to forget.

Keys are read afresh for every batch (one query), never cached across batches: a cached key
would go on revealing a subject another process has just erased.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import asyncpg
from cryptography.exceptions import InvalidTag

from adapters.store.personal import cipher

Conn = asyncpg.Connection | asyncpg.Pool


class SubjectKeys:
    """Data keys per subject, each wrapped by the instance key (FLOWLEDGER_CIPHER_KEY)."""

    __slots__ = ("_instance_key",)

    def __init__(self, instance_key: bytes) -> None:
        if len(instance_key) != 32:
            raise ValueError("the instance key must be 32 bytes (AES-256)")
        self._instance_key = instance_key

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SubjectKeys) and other._instance_key == self._instance_key

    def __hash__(self) -> int:
        return hash(self._instance_key)

    def __repr__(self) -> str:
        return "SubjectKeys(instance_key=<redacted>)"

    def subject_id(self, login: str) -> str:
        return cipher.subject_id(self._instance_key, login)

    def handle(self, kind: str, value: str) -> str:
        return cipher.handle(self._instance_key, kind, value)

    async def ensure(self, conn: Conn, login: str, handles: Mapping[str, str]) -> tuple[str, bytes]:
        """The subject of `login` and its data key, created on first use, with its handles."""
        subject = self.subject_id(login)
        # Read first: the upsert below writes a new row version even when the key exists, and
        # every event of one person (a webhook sender's pushes) would queue on that row's lock,
        # one disk flush each.
        stored = await conn.fetchval(
            "SELECT wrapped_key FROM data_subject_keys WHERE subject_id = $1", subject
        )
        if stored is None:
            wrapped = cipher.wrap(self._instance_key, subject, cipher.new_data_key())
            # Concurrent first uses race to insert; the one stored wins and everyone uses it.
            stored = await conn.fetchval(
                "INSERT INTO data_subject_keys (subject_id, wrapped_key) VALUES ($1, $2) "
                "ON CONFLICT (subject_id) DO UPDATE SET subject_id = EXCLUDED.subject_id "
                "RETURNING wrapped_key",
                subject,
                wrapped,
            )
        if handles:
            await conn.executemany(
                "INSERT INTO data_subject_handles (handle, subject_id) VALUES ($1, $2) "
                "ON CONFLICT (handle) DO NOTHING",
                [(self.handle(kind, value), subject) for kind, value in handles.items() if value],
            )
        return subject, cipher.unwrap(self._instance_key, subject, stored)

    async def wrapped(self, conn: Conn, subjects: Collection[str]) -> dict[str, str]:
        """The wrapped data keys of `subjects` still kept; an erased subject is simply absent."""
        rows = await conn.fetch(
            "SELECT subject_id, wrapped_key FROM data_subject_keys WHERE subject_id = ANY($1)",
            list(subjects),
        )
        return {row["subject_id"]: row["wrapped_key"] for row in rows}

    def unwrap(self, subject: str, wrapped: str) -> bytes | None:
        """The data key, or None if this instance key did not wrap it."""
        try:
            return cipher.unwrap(self._instance_key, subject, wrapped)
        except (ValueError, InvalidTag):
            return None

    async def lookup(self, conn: Conn, kind: str, value: str) -> str | None:
        """The subject an admin knows by an e-mail address or a login, if it has a key."""
        handle = self.handle(kind, value)
        found = await conn.fetchval(
            "SELECT subject_id FROM data_subject_handles WHERE handle = $1", handle
        )
        if found is None and kind == "login":
            subject = self.subject_id(value)
            found = await conn.fetchval(
                "SELECT subject_id FROM data_subject_keys WHERE subject_id = $1", subject
            )
        return found

    async def exists(self, conn: Conn, subject: str) -> bool:
        return (
            await conn.fetchval("SELECT 1 FROM data_subject_keys WHERE subject_id = $1", subject)
            is not None
        )

    async def forget(self, conn: Conn, subject: str) -> bool:
        """Delete the subject's key (and handles): its sealed values are unreadable from now on."""
        deleted = await conn.fetchval(
            "DELETE FROM data_subject_keys WHERE subject_id = $1 RETURNING 1", subject
        )
        return deleted is not None


class PgDataSubjects:
    """The command side's port (`commands.ports.DataSubjects`) on the process's pool."""

    def __init__(self, pool: asyncpg.Pool, keys: SubjectKeys) -> None:
        self._pool = pool
        self._keys = keys

    async def exists(self, subject_id: str) -> bool:
        return await self._keys.exists(self._pool, subject_id)

    async def forget(self, subject_id: str) -> bool:
        return await self._keys.forget(self._pool, subject_id)
