"""The store's functions over array parameters keep one generic plan per session (migration
0019): a custom plan knows an array's length and so always looked cheaper to PostgreSQL's plan
cache, which then planned their statements anew on every call, at more cost than running them.
"""

from __future__ import annotations

import asyncpg
import pytest

from adapters.store import EventStore, NewEvent
from adapters.store.reader import read_tails
from projections.reached import reached
from tests.helpers import unique_id

FUNCTIONS = ("append_batch", "read_tails", "views_reached", "kept_subject_keys")


async def _settings(store_url: str, function: str) -> list[str]:
    conn = await asyncpg.connect(store_url)
    try:
        return await conn.fetchval(
            "SELECT coalesce(proconfig, '{}') FROM pg_proc WHERE proname = $1", function
        )
    finally:
        await conn.close()


@pytest.mark.parametrize("function", FUNCTIONS)
async def test_the_function_plans_its_statements_generically(
    store: EventStore, store_url: str, function: str
) -> None:
    # A `CREATE OR REPLACE FUNCTION` that forgot the SET clause would drop it silently.
    assert await _settings(store_url, function) == ["plan_cache_mode=force_generic_plan"]


async def test_tails_are_read_through_the_function_as_before(
    store: EventStore, store_url: str
) -> None:
    first, second, empty = unique_id("run-"), unique_id("run-"), unique_id("run-")
    for stream, count in ((first, 3), (second, 1)):
        events = [NewEvent(type="RunStarted", data={"n": n}) for n in range(count)]
        await store.append(stream, "run", events, expected_version=0)
    conn = await asyncpg.connect(store_url)
    try:
        for _ in range(7):  # past the plan cache's five custom plans: its generic plan answers
            tails = await read_tails(conn, {first: 2, second: 1, empty: 1})
            assert {s: [e.version for e in tails[s]] for s in tails} == {first: [2, 3], second: [1]}
            assert [e.data["n"] for e in tails[first]] == [1, 2]
    finally:
        await conn.close()


async def test_reach_is_answered_for_the_views_named_only(store_url: str) -> None:
    name, other = unique_id("view-"), unique_id("view-")
    conn = await asyncpg.connect(store_url)
    try:
        await conn.execute(
            "INSERT INTO projection_checkpoints (name, version, position, state) "
            "VALUES ($1, 1, 0, 'running'), ($2, 1, 0, 'running')",
            name,
            other,
        )
        for _ in range(7):
            assert await reached(conn, [name, unique_id("missing-")]) == {name: 0}
    finally:
        await conn.execute("DELETE FROM projection_checkpoints WHERE name = ANY($1)", [name, other])
        await conn.close()
