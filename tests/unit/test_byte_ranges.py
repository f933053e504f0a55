"""`Range: bytes=...` (RFC 9110 §14.1.2) and `multipart/byteranges` bodies (§14.6), checked
against a byte-by-byte model and against the standard library's MIME parser."""

from __future__ import annotations

import email.parser
import email.policy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.http.reads.byte_ranges import (
    RANGES_MAX,
    Unsatisfiable,
    multipart_parts,
    parse_ranges,
)

Spec = tuple[int | None, int | None]
sizes = st.integers(0, 300)
offsets = st.integers(0, 400)
specs = st.one_of(
    st.tuples(offsets, st.none()),  # first-
    st.tuples(st.none(), offsets),  # -suffix
    offsets.flatmap(lambda a: st.tuples(st.just(a), st.integers(a, a + 400))),  # first-last
)


def spell(spec: Spec) -> str:
    first, last = spec
    return f"{'' if first is None else first}-{'' if last is None else last}"


def model(spec: Spec, size: int) -> set[int]:
    """The bytes one range-spec selects, by the RFC's words, one offset at a time."""
    first, last = spec
    if first is None:
        assert last is not None
        return set(range(max(size - last, 0), size))
    return {i for i in range(size) if first <= i and (last is None or i <= last)}


@given(size=sizes, asked=st.lists(specs, min_size=1, max_size=RANGES_MAX),
       spaces=st.sampled_from([",", ", ", " ,\t"]))  # fmt: skip
def test_the_ranges_served_cover_exactly_the_bytes_asked(
    size: int, asked: list[Spec], spaces: str
) -> None:
    header = "bytes=" + spaces.join(spell(s) for s in asked)
    wanted = [model(s, size) for s in asked]
    if not any(wanted):
        with pytest.raises(Unsatisfiable):
            parse_ranges(header, size)
        return
    served = parse_ranges(header, size)
    assert all(0 <= start < end <= size for start, end in served)
    offsets_served = [i for start, end in served for i in range(start, end)]
    assert set(offsets_served) == set().union(*wanted)
    nonempty = [w for w in wanted if w]
    overlapping = len(set().union(*nonempty)) < sum(len(w) for w in nonempty)
    if overlapping:  # coalesced: ascending and disjoint
        assert served == sorted(served)
        assert len(offsets_served) == len(set(offsets_served))
    else:  # as asked, in order, each clipped to the object
        assert [set(range(a, b)) for a, b in served] == nonempty


@given(size=st.integers(1, 3000), asked=st.lists(specs, min_size=2, max_size=6))
def test_a_multipart_body_reads_back_with_the_standard_mime_parser(
    size: int, asked: list[Spec]
) -> None:
    data = bytes(i % 251 for i in range(size))
    try:
        served = parse_ranges("bytes=" + ",".join(spell(s) for s in asked), size)
    except Unsatisfiable:
        return
    parts, tail, length = multipart_parts(served, size, "application/x-tar", "b0undary")
    body = b"".join(p.head + data[p.start : p.end] for p in parts) + tail
    assert len(body) == length
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: multipart/byteranges; boundary=b0undary\r\n\r\n" + body
    )
    got = list(message.iter_parts())
    assert len(got) == len(served)
    for part, (start, end) in zip(got, served, strict=True):
        assert part["Content-Type"] == "application/x-tar"
        assert part["Content-Range"] == f"bytes {start}-{end - 1}/{size}"
        assert part.get_payload(decode=True) == data[start:end]


@pytest.mark.parametrize("header", [
    "lines=0-1", "bytes=", "bytes=-", "bytes=5-2", "bytes=a-b", "bytes=1-2;3-4", "bytes 0-1",
    "bytes=" + ",".join(f"{i}-{i}" for i in range(RANGES_MAX + 1)), "bytes=-0", "bytes=10-",
])  # fmt: skip
def test_what_is_refused(header: str) -> None:
    with pytest.raises(Unsatisfiable):
        parse_ranges(header, 10)


def test_examples_of_rfc_9110() -> None:
    size = 10_000
    assert parse_ranges("bytes=0-499", size) == [(0, 500)]
    assert parse_ranges("bytes=500-999", size) == [(500, 1000)]
    assert parse_ranges("bytes=-500", size) == [(9500, 10000)]
    assert parse_ranges("bytes=9500-", size) == [(9500, 10000)]
    assert parse_ranges("bytes=0-0,-1", size) == [(0, 1), (9999, 10000)]
    assert parse_ranges("bytes=500-600,601-999", size) == [(500, 601), (601, 1000)]
    assert parse_ranges("bytes=500-700,601-999", size) == [(500, 1000)]
    assert parse_ranges("Bytes=0-1, 20-29", size) == [(0, 2), (20, 30)]
    assert parse_ranges("bytes=0-1,10000-,5-6", size) == [(0, 2), (5, 7)]  # one dropped
