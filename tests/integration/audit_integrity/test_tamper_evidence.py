"""Rewriting history with SQL is found, exactly: which stream, which position, which version,
and what was done (altered, deleted, swapped, reordered)."""

from __future__ import annotations

import asyncpg
import pytest

from adapters.audit.chains import Break
from adapters.audit.verify import VerifyReport, verify_all, verify_stream
from adapters.platform.services import Services
from tests.integration.audit_integrity.auditing import History, Link, make_history, tamper


async def check_all(url: str) -> VerifyReport:
    conn = await asyncpg.connect(url)
    try:
        return await verify_all(conn)
    finally:
        await conn.close()


async def check_stream(url: str, stream: object) -> VerifyReport | None:
    conn = await asyncpg.connect(url)
    try:
        return await verify_stream(conn, str(stream))
    finally:
        await conn.close()


def link(history: History, run_index: int, version: int) -> Link:
    run = history.runs[run_index]
    return next(x for x in history.links[run] if x.version == version)


async def test_an_untouched_store_verifies(scratch_url: str, scratch_services: Services) -> None:
    history = await make_history(scratch_services)
    conn = await asyncpg.connect(scratch_url)
    try:
        rows, streams, head = await conn.fetchrow(
            "SELECT count(*), count(DISTINCT stream_id), max(position) FROM events"
        )
    finally:
        await conn.close()

    everything = await check_all(scratch_url)
    one = await check_stream(scratch_url, history.runs[0])

    assert everything.ok and everything.breaks == [] and everything.first_break is None
    assert (everything.events, everything.streams, everything.head) == (rows, streams, head)
    assert one is not None and one.ok and one.scope == "stream"
    assert one.events == len(history.links[history.runs[0]])
    assert await check_stream(scratch_url, "no-such-stream") is None


async def test_altered_data_is_a_hash_mismatch_at_that_event(
    scratch_url: str, scratch_services: Services
) -> None:
    history = await make_history(scratch_services)
    run = history.runs[0]
    target = next(x for x in history.links[run] if x.type == "LogChunkAppended")
    await tamper(
        scratch_url,
        (
            "UPDATE events SET data = replace(data::text, 'compiling', 'all fine')::json "
            "WHERE stream_id = $1 AND version = $2",
            [str(run), target.version],
        ),
    )

    everything = await check_all(scratch_url)
    one = await check_stream(scratch_url, run)

    expected = Break(
        kind="hash_mismatch",
        position=target.position,
        stream_id=str(run),
        version=target.version,
        expected_version=target.version,
        detail=everything.breaks[0].detail,
    )
    assert not everything.ok
    assert everything.breaks == [expected] and everything.first_break == expected
    assert (everything.broken_streams, everything.position_gaps) == (1, 0)
    assert one is not None and one.breaks == [expected]
    assert "changed after it was written" in expected.detail
    assert (await check_stream(scratch_url, history.runs[1])).ok


async def test_a_deleted_event_is_a_version_gap_and_a_hole_in_the_positions(
    scratch_url: str, scratch_services: Services
) -> None:
    history = await make_history(scratch_services)
    run = history.runs[0]
    deleted, after = link(history, 0, 3), link(history, 0, 4)
    await tamper(
        scratch_url,
        ("DELETE FROM events WHERE stream_id = $1 AND version = 3", [str(run)]),
    )

    everything = await check_all(scratch_url)
    one = await check_stream(scratch_url, run)

    gap = everything.breaks[1]
    assert [b.kind for b in everything.breaks] == ["position_gap", "version_gap"]
    assert everything.first_break == everything.breaks[0]
    assert everything.breaks[0].position == deleted.position
    assert everything.breaks[0].stream_id is None
    assert f"position {deleted.position} is missing" in everything.breaks[0].detail
    assert (gap.stream_id, gap.position, gap.version, gap.expected_version) == (
        str(run),
        after.position,
        4,
        3,
    )
    assert "version 3 missing" in gap.detail
    assert one is not None and one.breaks == [gap]


async def test_deleting_a_stream_s_last_event_leaves_a_hole_in_the_positions(
    scratch_url: str, scratch_services: Services
) -> None:
    history = await make_history(scratch_services)
    run = history.runs[0]
    last = history.links[run][-1]
    await tamper(
        scratch_url,
        ("DELETE FROM events WHERE stream_id = $1 AND version = $2", [str(run), last.version]),
    )

    everything = await check_all(scratch_url)

    assert [(b.kind, b.position) for b in everything.breaks] == [("position_gap", last.position)]
    # A chain alone cannot tell a cut-off tail: only the global positions can.
    assert (await check_stream(scratch_url, run)).ok


async def test_two_swapped_versions_are_named(scratch_url: str, scratch_services: Services) -> None:
    history = await make_history(scratch_services)
    run = str(history.runs[0])
    third = link(history, 0, 3)
    parked = 1_000_000  # the (stream, version) key is unique at every step of the swap
    await tamper(
        scratch_url,
        ("UPDATE events SET version = $2 WHERE stream_id = $1 AND version = 3", [run, parked]),
        ("UPDATE events SET version = 3 WHERE stream_id = $1 AND version = 4", [run]),
        ("UPDATE events SET version = 4 WHERE stream_id = $1 AND version = $2", [run, parked]),
    )

    everything = await check_all(scratch_url)
    one = await check_stream(scratch_url, run)

    swap = everything.first_break
    assert everything.breaks == [swap]
    assert swap is not None and swap.kind == "versions_swapped"
    assert (swap.stream_id, swap.position, swap.version, swap.expected_version) == (
        run,
        third.position,
        4,
        3,
    )
    assert one is not None and one.breaks == [swap]


async def test_events_moved_in_the_global_order_are_out_of_order(
    scratch_url: str, scratch_services: Services
) -> None:
    history = await make_history(scratch_services)
    run = str(history.runs[0])
    third, fourth = link(history, 0, 3), link(history, 0, 4)
    await tamper(
        scratch_url,
        ("UPDATE events SET position = -1 WHERE position = $1", [third.position]),
        ("UPDATE events SET position = $1 WHERE position = $2", [third.position, fourth.position]),
        ("UPDATE events SET position = $1 WHERE position = -1", [fourth.position]),
    )

    everything = await check_all(scratch_url)

    moved = everything.first_break
    assert everything.breaks == [moved]
    assert moved is not None and moved.kind == "out_of_order"
    assert (moved.stream_id, moved.position, moved.version, moved.expected_version) == (
        run,
        third.position,
        4,
        3,
    )


async def test_every_broken_stream_is_reported_once(
    scratch_url: str, scratch_services: Services
) -> None:
    history = await make_history(scratch_services)
    first, second = (str(r) for r in history.runs)
    altered, deleted = link(history, 0, 2), link(history, 1, 5)
    await tamper(
        scratch_url,
        (
            'UPDATE events SET metadata = \'{"actor":"mallory"}\' '
            "WHERE stream_id = $1 AND version IN (2, 3)",
            [first],
        ),
        ("DELETE FROM events WHERE stream_id = $1 AND version = 5", [second]),
    )

    everything = await check_all(scratch_url)

    found = [(b.kind, b.stream_id, b.position) for b in everything.breaks]
    assert found == sorted(
        [
            ("hash_mismatch", first, altered.position),
            ("position_gap", None, deleted.position),
            ("version_gap", second, link(history, 1, 6).position),
        ],
        key=lambda f: f[2],
    )
    assert (everything.broken_streams, everything.position_gaps) == (2, 1)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE events SET type = type WHERE version = 1",
        "DELETE FROM events WHERE version = 1",
        "TRUNCATE events",
    ],
)
async def test_history_is_append_only_even_for_the_owner(
    scratch_url: str, scratch_services: Services, sql: str
) -> None:
    await make_history(scratch_services)
    conn = await asyncpg.connect(scratch_url)  # the superuser that owns the table
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await conn.execute(sql)
        assert await conn.fetchval("SELECT count(*) FROM events WHERE version = 1") > 0
    finally:
        await conn.close()
    assert (await check_all(scratch_url)).ok
