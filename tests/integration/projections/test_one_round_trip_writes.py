"""A batch's checkpoint move opens its transaction in the same round trip (`begin_advancing`),
and a view's upserts into several tables go as one statement (`save_all`)."""

from __future__ import annotations

import asyncio

import asyncpg

from projections import checkpoints
from projections.rows import Upsert, save, save_all
from tests.helpers import unique_id


async def test_the_move_opens_the_transaction_or_says_the_row_moved(
    fresh_conn: asyncpg.Connection,
) -> None:
    name = unique_id("moving_").replace("-", "_")
    await fresh_conn.execute(
        "INSERT INTO projection_checkpoints (name, version, state, position) "
        "VALUES ($1, 1, 'running', 5)",
        name,
    )
    sent: list[str] = []
    fresh_conn.add_query_logger(lambda record: sent.append(record.query))

    assert await checkpoints.begin_advancing(fresh_conn, name, 5, 9, wait_for_disk=False)
    await asyncio.sleep(0)  # asyncpg calls its query loggers on the next loop turn
    assert len(sent) == 1 and fresh_conn.is_in_transaction()
    assert await fresh_conn.fetchval("SELECT current_setting('synchronous_commit')") == "off"
    await fresh_conn.execute("COMMIT")
    assert await fresh_conn.fetchval("SHOW synchronous_commit") == "on"  # LOCAL: that batch's only

    assert not await checkpoints.begin_advancing(fresh_conn, name, 5, 12, wait_for_disk=True)
    await checkpoints.roll_back(fresh_conn)
    assert not fresh_conn.is_in_transaction()
    position = "SELECT position FROM projection_checkpoints WHERE name = $1"
    assert await fresh_conn.fetchval(position, name) == 9
    # The move is prepared once per session, on its first use.
    prepared = "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'flowledger_%'"
    assert await fresh_conn.fetchval(prepared) == 1


async def test_upserts_into_several_tables_go_as_one_statement(
    fresh_conn: asyncpg.Connection,
) -> None:
    await fresh_conn.execute(
        "CREATE SCHEMA saved; "
        "CREATE TABLE saved.a (id int PRIMARY KEY, v text NOT NULL); "
        "CREATE TABLE saved.b (id int, k text, n int NOT NULL, PRIMARY KEY (id, k)); "
        "CREATE TABLE saved.c (id int PRIMARY KEY)"
    )
    await save(fresh_conn, "saved", "a", [{"id": 1, "v": "old"}], key=("id",), columns=("id", "v"))
    sent: list[str] = []
    fresh_conn.add_query_logger(lambda record: sent.append(record.query))

    await save_all(
        fresh_conn,
        "saved",
        Upsert("a", iter([{"id": 1, "v": "new"}, {"id": 2, "v": "two"}]), ("id",), ("id", "v")),
        Upsert("c", [], ("id",), ("id",)),  # nothing: left out of the statement
        Upsert("b", ({"id": 1, "k": k, "n": n} for n, k in enumerate("xy")), ("id", "k"),
               ("id", "k", "n")),
    )  # fmt: skip
    await save_all(
        fresh_conn, "saved", Upsert("c", [], ("id",), ("id",))
    )  # nothing at all: no trip
    await asyncio.sleep(0)  # asyncpg calls its query loggers on the next loop turn

    assert len(sent) == 1
    assert [tuple(r) for r in await fresh_conn.fetch("SELECT * FROM saved.a ORDER BY id")] == [
        (1, "new"),
        (2, "two"),
    ]
    assert [tuple(r) for r in await fresh_conn.fetch("SELECT * FROM saved.b ORDER BY k")] == [
        (1, "x", 0),
        (1, "y", 1),
    ]
