"""Migration 0022's append_batch (fewer PL/pgSQL statements per append, the events' data and
canonical bytes each joined into one argument) answers and writes what 0021's did. 0021's
definition is created under another name inside each call's transaction, and each drawn batch is
called with both functions (0021 given the joined arguments split into its arrays), in the lean
shape the writer sends (one event per append takes 0022's short path) and with every array in
full (its general path), each call in a transaction rolled back after: the answers, the events
written (positions, versions and hashes included) and the idempotency keys kept must be the
same."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import asyncpg
from hypothesis import example, given, settings
from hypothesis import strategies as st

from adapters.store.append_batch import APPEND_BATCH, batch_arguments
from adapters.store.migrations import DEFAULT_DIRECTORY
from tests.helpers import unique_id
from tests.integration.event_store.postgres.batch_calls import (
    append_drawn,
    called_and_rolled_back,
    full_arguments,
    seed_drawn_streams,
)

_0021 = (DEFAULT_DIRECTORY / "0021_append_batch_lean_arguments.sql").read_text()
OLD_FUNCTION = _0021[_0021.index("CREATE FUNCTION") : _0021.index("GRANT EXECUTE")].replace(
    "CREATE FUNCTION append_batch(", "CREATE FUNCTION append_batch_0021(", 1
)
OLD_CALL = APPEND_BATCH.replace("append_batch(", "append_batch_0021(", 1)

appends = st.lists(
    st.fixed_dictionaries(
        {
            "stream": st.integers(0, 4),  # 0 and 1 exist (a run at version 1, 2); the rest new
            "stream_type": st.sampled_from(["run", "run", "run", "job"]),
            "expected": st.sampled_from([0, 0, 1, 2, 3]),
            "key": st.sampled_from([None, None, None, "used", "fresh"]),
            "actor": st.sampled_from([None, None, "ada"]),
            "events": st.lists(
                st.tuples(st.sampled_from(["RunStarted", "StepStarted"]), st.sampled_from([1, 2])),
                min_size=1,
                max_size=3,
            ),
            # in the data: newlines, quotes, backslashes and non-ASCII, escaped by the encoder
            "text": st.text(
                st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                max_size=8,
            ),
            # streams the decision read, at the version read (2 and up: new, at 0)
            "guards": st.dictionaries(st.integers(0, 4), st.integers(0, 2), max_size=2),
        }
    ),
    min_size=1,
    max_size=6,
    unique_by=lambda d: d["stream"],  # as the writer batches: one append per stream
)


def _drawn(
    stream: int,
    *,
    stream_type: str = "run",
    expected: int = 0,
    key: str | None = None,
    events: int = 1,
    text: str = "",
    guards: dict[int, int] | None = None,
) -> dict[str, object]:
    """One append as `appends` draws it."""
    return {
        "stream": stream,
        "stream_type": stream_type,
        "expected": expected,
        "key": key,
        "actor": None,
        "events": [("RunStarted", 1)] * events,
        "text": text,
        "guards": guards or {},
    }


def as_0021(arguments: tuple[object, ...]) -> tuple[object, ...]:
    """0022's arguments as 0021 took them: the data and the canonical bytes as arrays."""
    data, canonical = arguments[9], arguments[11]
    assert isinstance(data, str) and isinstance(canonical, bytes)
    return (
        *arguments[:9],
        data.split("\n"),
        arguments[10],
        canonical.split(b"\n"),
        *arguments[12:],
    )


async def _same_as_0021(url: str, prefix: str, drawn: list[dict[str, object]]) -> list[str]:
    batch = [append_drawn(prefix, d) for d in drawn]
    keys = [p.idempotency_key for p in batch if p.idempotency_key]
    at = datetime.now(UTC)
    lean = batch_arguments(batch, at)
    full = full_arguments(batch, at, lean[11])
    conn = await asyncpg.connect(url)
    try:
        for arguments in (lean, full):
            new = await called_and_rolled_back(conn, APPEND_BATCH, arguments, keys)
            old = as_0021(arguments)
            assert new == await called_and_rolled_back(conn, OLD_CALL, old, keys, OLD_FUNCTION)
            assert len(new[0]) == len(batch)
    finally:
        await conn.close()
    return [row[0] for row in new[0]]  # type: ignore[misc]


def test_0022_answers_and_writes_what_0021_did(store_url: str) -> None:
    prefix = unique_id("0022-")
    asyncio.run(seed_drawn_streams(store_url, prefix))
    statuses: set[str] = set()

    @settings(max_examples=80, deadline=None)
    @given(drawn=appends)
    @example(drawn=[_drawn(0, stream_type="job", expected=1), _drawn(2, guards={1: 0})])
    @example(
        drawn=[_drawn(3, key="used"), _drawn(4, events=2), _drawn(1, expected=2, guards={4: 0})]
    )
    @example(drawn=[_drawn(0, key="used"), _drawn(1, text="a\nb")])
    def check(drawn: list[dict[str, object]]) -> None:
        statuses.update(asyncio.run(_same_as_0021(store_url, prefix, drawn)))

    check()
    # every verdict was reached (the examples see to it), so each of 0022's branches compared
    assert statuses == {"ok", "conflict", "duplicate", "key_reused", "guard_moved", "type_mismatch"}
