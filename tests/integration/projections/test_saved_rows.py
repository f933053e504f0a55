"""`rows.save` reads its rows as `json` (each value to its column's input function); it read them
as `jsonb` before. Random rows saved both ways must leave the same tables."""

from __future__ import annotations

import asyncpg
import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections.rows import save

COLUMNS = ("id", "name", "tags", "refs", "doc", "at", "n", "big", "flag")
DDL = """
CREATE TABLE IF NOT EXISTS {s}.t (
    id integer PRIMARY KEY, name text, tags text[], refs uuid[], doc jsonb,
    at timestamptz, n integer, big bigint, flag boolean
)"""
JSONB_SAVE = (
    "INSERT INTO jsonb_rows.t SELECT * FROM jsonb_populate_recordset(NULL::jsonb_rows.t, "
    "$1::text::jsonb) ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[1:])
)
"""The statement `save` sent before."""

texts = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=12
) | st.sampled_from(["NULL", "", '"', "\\", "\\u0041", "{}", "pii:v1:x"])
scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | texts
scalars |= st.floats(allow_nan=False, allow_infinity=False)
documents = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3)
)
times = st.datetimes(timezones=st.timezones()).map(lambda t: t.isoformat())
rows = st.fixed_dictionaries(
    {"id": st.integers(0, 5)},
    optional={
        "name": st.none() | texts,
        "tags": st.none() | st.lists(st.none() | texts, max_size=3),
        "refs": st.none() | st.lists(st.uuids().map(str), max_size=3),
        "doc": documents,
        "at": st.none() | times,
        "n": st.none() | st.integers(-(2**31), 2**31 - 1),
        "big": st.none() | st.integers(-(2**63), 2**63 - 1),
        "flag": st.none() | st.booleans(),
    },
)
batches = st.lists(
    st.lists(rows, max_size=6).map(lambda rs: list({r["id"]: r for r in rs}.values())),
    min_size=1,
    max_size=3,
)


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batches=batches)
async def test_rows_read_as_json_are_saved_as_rows_read_as_jsonb(
    fresh_conn: asyncpg.Connection, batches: list[list[dict]]
) -> None:
    for schema in ("json_rows", "jsonb_rows"):
        await fresh_conn.execute(
            f"CREATE SCHEMA IF NOT EXISTS {schema}; {DDL.format(s=schema)}; TRUNCATE {schema}.t"
        )
    for batch in batches:
        await save(fresh_conn, "json_rows", "t", batch, key=("id",), columns=COLUMNS)
        await fresh_conn.execute(JSONB_SAVE, msgspec.json.encode(batch).decode())
    table = "SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY id), '[]')::text FROM {}.t"
    saved = await fresh_conn.fetchval(table.format("json_rows"))
    assert saved == await fresh_conn.fetchval(table.format("jsonb_rows"))
    assert len(msgspec.json.decode(saved)) == len({r["id"] for b in batches for r in b})
