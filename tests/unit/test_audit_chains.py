"""ChainChecker: given rows as the store chains them, when they are tampered with, then the
first bad link of each stream is named exactly, however the rows are batched."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from adapters.audit.chains import ChainChecker, Row
from adapters.store.encoding import GENESIS_HASH, canonical_bytes, chain_hash

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def chained(streams: dict[str, int]) -> list[Row]:
    """Rows for `streams` (id -> event count), interleaved round-robin, hashed as the store
    does; positions 1..n in that order."""
    heads = {s: GENESIS_HASH for s in streams}
    versions = dict.fromkeys(streams, 0)
    rows: list[Row] = []
    while any(versions[s] < n for s, n in streams.items()):
        for stream, count in streams.items():
            if versions[stream] == count:
                continue
            versions[stream] += 1
            row = make_row(len(rows) + 1, stream, versions[stream], heads[stream])
            heads[stream] = row[10]
            rows.append(row)
    return rows


def make_row(position: int, stream: str, version: int, prev: bytes) -> Row:
    event_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{stream}/{version}")
    at = T0 + timedelta(seconds=position)
    data = f'{{"n":{version},"text":"line \\"{version}\\""}}'
    meta = '{"actor":"alice"}'
    canonical = canonical_bytes(
        event_id=event_id, stream_id=stream, stream_type="run", version=version,
        type="Thing", schema_version=1, recorded_at=at, data=data, metadata=meta,
    )  # fmt: skip
    hash_ = chain_hash(prev, canonical)
    return (position, event_id, stream, "run", version, "Thing", 1, at, data, meta, hash_)


def check(rows: list[Row], batch: int = 1000, *, positions: bool = True) -> list[tuple]:
    checker = ChainChecker(check_positions=positions)
    for start in range(0, len(rows), batch):
        checker.feed(rows[start : start + batch])
    return [
        (b.kind, b.position, b.stream_id, b.version, b.expected_version) for b in checker.finish()
    ]


def replace(row: Row, **changes: object) -> Row:
    fields = ("position", "event_id", "stream_id", "stream_type", "version", "type",
              "schema_version", "recorded_at", "data", "metadata", "hash")  # fmt: skip
    values = dict(zip(fields, row, strict=True)) | changes
    return tuple(values[f] for f in fields)  # type: ignore[return-value]


@pytest.mark.parametrize("batch", [1, 2, 7, 1000])
def test_untouched_rows_pass_in_any_batching(batch: int) -> None:
    rows = chained({"a": 5, "b": 3, "c": 4})
    checker = ChainChecker(check_positions=True)
    for start in range(0, len(rows), batch):
        checker.feed(rows[start : start + batch])

    assert checker.finish() == []
    assert (checker.events, checker.streams) == (12, 3)


@pytest.mark.parametrize(
    "change",
    [
        {"data": '{"n":3,"text":"line \\"three\\""}'},
        {"metadata": '{"actor":"mallory"}'},
        {"type": "Other"},
        {"recorded_at": T0},
        {"event_id": uuid.uuid4()},
        {"hash": bytes(32)},
    ],
)
def test_any_hashed_field_altered_is_a_hash_mismatch(change: dict[str, object]) -> None:
    rows = chained({"a": 5, "b": 5})
    target = next(i for i, r in enumerate(rows) if r[2] == "a" and r[4] == 3)
    rows[target] = replace(rows[target], **change)

    assert check(rows, batch=3) == [("hash_mismatch", rows[target][0], "a", 3, 3)]


def test_a_deleted_event_is_a_version_gap_at_the_next_one_and_a_position_hole() -> None:
    rows = chained({"a": 5, "b": 5})
    gone = next(i for i, r in enumerate(rows) if r[2] == "a" and r[4] == 2)
    deleted = rows.pop(gone)
    after = next(r for r in rows if r[2] == "a" and r[4] == 3)

    assert check(rows, batch=2) == [
        ("position_gap", deleted[0], None, None, None),
        ("version_gap", after[0], "a", 3, 2),
    ]
    assert check(rows, positions=False) == [("version_gap", after[0], "a", 3, 2)]


def test_a_deleted_first_event_is_a_gap_too() -> None:
    rows = chained({"a": 3})[1:]

    assert check(rows, positions=False) == [("version_gap", 2, "a", 2, 1)]
    assert check(rows)[0] == ("position_gap", 1, None, None, None)


def test_a_cut_off_tail_shows_only_in_the_positions() -> None:
    rows = chained({"a": 3, "b": 3})
    rows = [r for r in rows if not (r[2] == "a" and r[4] == 3)]

    assert check(rows) == [("position_gap", 5, None, None, None)]
    assert check([r for r in rows if r[2] == "a"], positions=False) == []


def test_swapped_version_numbers_are_named_at_the_earlier_position() -> None:
    rows = chained({"a": 5, "b": 2})
    i3 = next(i for i, r in enumerate(rows) if r[2] == "a" and r[4] == 3)
    i4 = next(i for i, r in enumerate(rows) if r[2] == "a" and r[4] == 4)
    rows[i3], rows[i4] = replace(rows[i3], version=4), replace(rows[i4], version=3)

    assert check(rows) == [("versions_swapped", rows[i3][0], "a", 4, 3)]


def test_events_moved_in_the_feed_are_out_of_order() -> None:
    rows = chained({"a": 5})
    third, fourth = rows[2], rows[3]
    rows[2], rows[3] = replace(fourth, position=3), replace(third, position=4)

    assert check(rows) == [("out_of_order", 3, "a", 4, 3)]


def test_a_jump_left_at_the_end_is_a_gap() -> None:
    rows = chained({"a": 4})
    del rows[2]  # version 3; version 4 is the stream's last event

    assert check(rows, positions=False) == [("version_gap", 4, "a", 4, 3)]


def test_each_broken_stream_is_reported_once_and_others_still_checked() -> None:
    rows = chained({"a": 6, "b": 6, "c": 6})
    for i, row in enumerate(rows):
        if row[2] == "a" and row[4] >= 2:
            rows[i] = replace(row, data='{"n":0}')
    bad_b = next(i for i, r in enumerate(rows) if r[2] == "b" and r[4] == 5)
    rows[bad_b] = replace(rows[bad_b], metadata="{}")

    found = check(rows, batch=4)
    a2 = next(r for r in rows if r[2] == "a" and r[4] == 2)

    assert found == [
        ("hash_mismatch", a2[0], "a", 2, 2),
        ("hash_mismatch", rows[bad_b][0], "b", 5, 5),
    ]
