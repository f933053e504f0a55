"""The data subjects' keys, outside the events table: created on first use, deleted to forget.

Keys are read afresh for every batch (one query), never cached across batches: a cached key
would go on revealing a subject another process has just erased. The pepper of the subjects'
keyed ids is kept wrapped in `instance_peppers` (it never changes, so it is cached): a person
keeps one subject id across instance key rotations.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping

import asyncpg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from adapters.store.personal import cipher
from adapters.store.personal.key_reads import KeyReads

Conn = asyncpg.Connection | asyncpg.Pool
log = logging.getLogger(__name__)
PEPPER = "data_subjects"
# The subject's wrapped key, if kept, and its handles noted when it is (a handle already noted,
# for this subject or another, stays as it is).
_KEY_NOTING_HANDLES = """
WITH kept AS (SELECT wrapped_key FROM data_subject_keys WHERE subject_id = $1),
noted AS (
    INSERT INTO data_subject_handles (handle, subject_id)
    SELECT handle, $1 FROM unnest($2::text[]) AS handle WHERE EXISTS (SELECT FROM kept)
    ON CONFLICT (handle) DO NOTHING
)
SELECT wrapped_key FROM kept
"""


class SubjectKeys:
    """Data keys per subject, each wrapped by the instance key (FLOWLEDGER_CIPHER_KEY)."""

    __slots__ = ("_aead", "_instance_key", "_pepper")

    def __init__(self, instance_key: bytes) -> None:
        if len(instance_key) != 32:
            raise ValueError("the instance key must be 32 bytes (AES-256)")
        self._instance_key = instance_key
        self._aead = AESGCM(instance_key)
        self._pepper: bytes | None = None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SubjectKeys) and other._instance_key == self._instance_key

    def __hash__(self) -> int:
        return hash(self._instance_key)

    def __repr__(self) -> str:
        return "SubjectKeys(instance_key=<redacted>)"

    async def pepper(self, conn: Conn) -> bytes:
        """The keyed ids' pepper, kept on first use (see `cipher.first_pepper`)."""
        if self._pepper is None:
            first = cipher.wrap(self._instance_key, PEPPER, cipher.first_pepper(self._instance_key))
            wrapped = await conn.fetchval(
                "INSERT INTO instance_peppers (purpose, wrapped) VALUES ($1, $2) "
                "ON CONFLICT (purpose) DO UPDATE SET purpose = EXCLUDED.purpose RETURNING wrapped",
                PEPPER,
                first,
            )
            try:
                self._pepper = cipher.unwrap(self._instance_key, PEPPER, wrapped)
            except (ValueError, InvalidTag):
                # Another instance key's pepper (a new key not rotated to yet, or test instances
                # sharing a database): this key's own, as before peppers were kept.
                log.warning("the subjects' pepper is not wrapped by this instance key")
                self._pepper = cipher.first_pepper(self._instance_key)
        return self._pepper

    async def subject_id(self, conn: Conn, login: str) -> str:
        return cipher.subject_id(await self.pepper(conn), login)

    async def handle(self, conn: Conn, kind: str, value: str) -> str:
        return cipher.handle(await self.pepper(conn), kind, value)

    async def ensure(
        self,
        conn: Conn,
        login: str,
        handles: Mapping[str, str],
        reads: KeyReads | None = None,
    ) -> tuple[str, bytes]:
        """The subject of `login` and its data key, created on first use, with its handles.
        With `reads` (on `conn`'s pool), the read goes with those of concurrent appends."""
        pepper = await self.pepper(conn)
        subject = cipher.subject_id(pepper, login)
        noted = [cipher.handle(pepper, kind, value) for kind, value in handles.items() if value]
        # Read first: the upsert below writes a new row version even when the key exists, and
        # every event of one person (a webhook sender's pushes) would queue on that row's lock,
        # one disk flush each. A kept key's handles are noted in the same round trip.
        if reads is not None:
            stored = await reads.read(subject, noted)
        else:
            stored = await conn.fetchval(_KEY_NOTING_HANDLES, subject, noted)
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
            if noted:
                await conn.executemany(
                    "INSERT INTO data_subject_handles (handle, subject_id) VALUES ($1, $2) "
                    "ON CONFLICT (handle) DO NOTHING",
                    [(handle, subject) for handle in noted],
                )
        return subject, cipher.unwrap_with(self._aead, subject, stored)

    async def wrapped(self, conn: Conn, subjects: Collection[str]) -> dict[str, str]:
        """The wrapped data keys of `subjects` still kept; an erased subject is simply absent."""
        # A function of migration 0019: planned once per session, not on every call.
        rows = await conn.fetch(
            "SELECT subject_id, wrapped_key FROM kept_subject_keys($1::text[])", list(subjects)
        )
        return {row["subject_id"]: row["wrapped_key"] for row in rows}

    def unwrap(self, subject: str, wrapped: str) -> bytes | None:
        """The data key, or None if this instance key did not wrap it."""
        try:
            return cipher.unwrap_with(self._aead, subject, wrapped)
        except (ValueError, InvalidTag):
            return None

    async def lookup(self, conn: Conn, kind: str, value: str) -> str | None:
        """The subject an admin knows by an e-mail address or a login, if it has a key."""
        handle = await self.handle(conn, kind, value)
        found = await conn.fetchval(
            "SELECT subject_id FROM data_subject_handles WHERE handle = $1", handle
        )
        if found is None and kind == "login":
            subject = await self.subject_id(conn, value)
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
