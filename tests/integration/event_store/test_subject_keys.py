"""A data subject's key on the real PostgreSQL: made once, then only read."""

from __future__ import annotations

import asyncio
import os

import asyncpg

from adapters.store.personal.keys import SubjectKeys
from tests.helpers import unique_id


async def test_a_known_subject_s_key_is_read_without_writing_its_row(pool: asyncpg.Pool) -> None:
    keys = SubjectKeys(os.urandom(32))
    login = unique_id("pusher-")
    # Concurrent first uses: one key stored, everyone gets it.
    firsts = await asyncio.gather(*(keys.ensure(pool, login, {}) for _ in range(8)))
    assert len(set(firsts)) == 1
    subject = firsts[0][0]
    version = "SELECT xmin::text FROM data_subject_keys WHERE subject_id = $1"
    before = await pool.fetchval(version, subject)
    again = await asyncio.gather(*(keys.ensure(pool, login, {}) for _ in range(8)))
    assert set(again) == {firsts[0]}
    # No new row version: later events of the same person wait on no lock and no flush.
    assert await pool.fetchval(version, subject) == before
