"""A data subject's key on the real PostgreSQL: made once, then only read."""

from __future__ import annotations

import asyncio
import os

import asyncpg

from adapters.store.personal.key_reads import KeyReads
from adapters.store.personal.keys import SubjectKeys
from adapters.store.pool import open_pool
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


async def test_concurrent_key_reads_share_one_query_and_note_handles_as_alone(
    pool: asyncpg.Pool,
) -> None:
    keys = SubjectKeys(os.urandom(32))
    a, b, stranger = unique_id("pusher-"), unique_id("pusher-"), unique_id("nobody-")
    first_a = await keys.ensure(pool, a, {})
    first_b = await keys.ensure(pool, b, {})
    reads = KeyReads(pool)
    mail = f"{a}@example.com"

    answers = await asyncio.gather(
        keys.ensure(pool, a, {"email": mail}, reads),
        keys.ensure(pool, a, {"login": a}, reads),
        keys.ensure(pool, b, {}, reads),
    )
    wrapped = await asyncio.gather(reads.read(await keys.subject_id(pool, stranger), ["x"]))

    assert reads.queries == 2  # the three appends' reads went as one
    assert answers == [first_a, first_a, first_b]
    assert wrapped == [None]  # no key for a subject never seen: the caller makes one
    handle = await keys.handle(pool, "email", mail)
    noted = "SELECT subject_id FROM data_subject_handles WHERE handle = $1"
    assert await pool.fetchval(noted, handle) == first_a[0]
    assert await keys.lookup(pool, "login", a) == first_a[0]
    # A handle of a subject without a key is not noted (as a read of its own would not).
    assert await pool.fetchval(noted, "x") is None


async def test_a_key_read_after_an_erasure_finds_no_key(pool: asyncpg.Pool) -> None:
    keys = SubjectKeys(os.urandom(32))
    login = unique_id("pusher-")
    subject, key = await keys.ensure(pool, login, {})
    reads = KeyReads(pool, max_in_flight=1)

    assert await reads.read(subject, []) is not None
    assert await keys.forget(pool, subject)
    assert await reads.read(subject, []) is None  # never answered from a key read before
    # A new first use makes a new key: what was sealed under the old one stays unreadable.
    again, new_key = await keys.ensure(pool, login, {}, reads)
    assert again == subject and new_key != key


async def test_wrapped_keys_are_those_still_kept_of_the_subjects_named(pool: asyncpg.Pool) -> None:
    keys = SubjectKeys(os.urandom(32))
    (kept, _), (erased, _) = [await keys.ensure(pool, unique_id("pusher-"), {}) for _ in range(2)]
    never = await keys.subject_id(pool, unique_id("nobody-"))
    stored = "SELECT wrapped_key FROM data_subject_keys WHERE subject_id = $1"
    wrapped = await pool.fetchval(stored, kept)
    assert await keys.forget(pool, erased)

    async with pool.acquire() as conn:
        for _ in range(7):  # past the plan cache's five custom plans: its generic plan answers
            assert await keys.wrapped(conn, [kept, erased, never]) == {kept: wrapped}
            assert await keys.wrapped(conn, []) == {}


async def test_a_failed_key_query_fails_every_read_of_its_batch(database_url: str) -> None:
    pool = await open_pool(database_url, max_size=1)
    reads = KeyReads(pool)
    await pool.close()

    answers = await asyncio.gather(reads.read("a", []), reads.read("b", []), return_exceptions=True)

    assert reads.queries == 1
    assert all(isinstance(answer, Exception) for answer in answers)
