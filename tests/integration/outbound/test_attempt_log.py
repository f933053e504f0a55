"""The attempt log on the real PostgreSQL: attempts written together, each worker answered."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import asyncpg

from adapters.outbound import attempts
from adapters.outbound.attempt_log import AttemptLog


def attempt(subscription: uuid.UUID, n: int, *, error: str = "") -> attempts.AttemptRow:
    return attempts.row(
        subscription_id=subscription,
        message_id=f"msg-{n}",
        event_position=n,
        event_type="ProjectRenamed",
        attempt=1,
        attempted_at=datetime.now(UTC),
        status_code=204,
        error=error,
        duration_ms=3,
        outcome="delivered",
    )


async def test_concurrent_attempts_are_each_written_once_and_readable_on_return(
    pool: asyncpg.Pool,
) -> None:
    log = AttemptLog(pool)
    subscriptions = [uuid.uuid4() for _ in range(50)]

    async def worker(subscription: uuid.UUID) -> None:
        for n in range(1, 5):
            await log.record(attempt(subscription, n))
            # Readable as soon as record returns: the API may be asked at once.
            found = await attempts.last_attempt_of(pool, subscription, f"msg-{n}")
            assert found is not None and found.event_position == n

    await asyncio.gather(*(worker(s) for s in subscriptions))
    await log.close()
    for subscription in subscriptions:
        found = await attempts.list_attempts(pool, subscription)
        assert [a.event_position for a in found] == [1, 2, 3, 4]


async def test_a_failed_write_is_raised_to_every_worker_of_its_batch(pool: asyncpg.Pool) -> None:
    log = AttemptLog(pool)
    subscription = uuid.uuid4()
    bad = (*attempt(subscription, 1)[:8], "three ms", "delivered")  # not an integer
    results = await asyncio.gather(
        log.record(attempt(subscription, 2)), log.record(bad), return_exceptions=True
    )
    assert all(isinstance(r, asyncpg.DataError) for r in results), results
    await log.record(attempt(subscription, 3))  # the next batch is written
    assert [a.event_position for a in await attempts.list_attempts(pool, subscription)] == [3]


def test_an_error_is_cut_and_stripped_of_nul() -> None:
    written = attempt(uuid.uuid4(), 1, error="a\x00b" + "x" * 1000)
    assert written[7].startswith("ab") and len(written[7]) == attempts.ERROR_MAX
    assert len(written) == attempts.INSERT.count("$")
