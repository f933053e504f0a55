"""append_batch's lean arguments (migration 0021) mean what every array given in full means: a
value the same for all sent once, no keys' array when no append has a key, no events' appends
when each append has one event. Each drawn batch is called both ways in one database, each call
in a transaction rolled back after: the answers, the events written (hashes included) and the
idempotency keys kept must be the same."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import asyncpg
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.store.append_batch import APPEND_BATCH, batch_arguments
from tests.helpers import unique_id
from tests.integration.event_store.postgres.batch_calls import (
    append_drawn,
    called_and_rolled_back,
    full_arguments,
    seed_drawn_streams,
)

events = st.lists(
    st.tuples(st.sampled_from(["RunStarted", "StepStarted"]), st.sampled_from([1, 2])),
    min_size=1,
    max_size=3,
)
appends = st.lists(
    st.fixed_dictionaries(
        {
            "stream": st.integers(0, 4),  # 0 and 1 exist (a run at version 1, 2); the rest new
            "stream_type": st.sampled_from(["run", "run", "job"]),
            "expected": st.integers(0, 2),
            "key": st.sampled_from([None, None, "used", "fresh"]),
            "actor": st.sampled_from([None, None, "ada"]),
            "events": events,
        }
    ),
    min_size=1,
    max_size=5,
    unique_by=lambda d: d["stream"],  # as the writer batches: one append per stream and key
)


async def _same_both_ways(url: str, prefix: str, drawn: list[dict[str, object]]) -> None:
    batch = [append_drawn(prefix, d) for d in drawn]
    keys = [p.idempotency_key for p in batch if p.idempotency_key]
    at = datetime.now(UTC)
    conn = await asyncpg.connect(url)
    try:
        arguments = batch_arguments(batch, at)
        lean = await called_and_rolled_back(conn, APPEND_BATCH, arguments, keys)
        full = await called_and_rolled_back(
            conn, APPEND_BATCH, full_arguments(batch, at, arguments[11]), keys
        )
    finally:
        await conn.close()
    assert lean == full
    assert any(lean[1]) or all(row[0] != "ok" for row in lean[0])


def test_the_lean_arguments_answer_and_write_what_the_full_ones_do(store_url: str) -> None:
    prefix = unique_id("shape-")
    asyncio.run(seed_drawn_streams(store_url, prefix))

    @settings(max_examples=60, deadline=None)
    @given(drawn=appends)
    def check(drawn: list[dict[str, object]]) -> None:
        asyncio.run(_same_both_ways(store_url, prefix, drawn))

    check()
