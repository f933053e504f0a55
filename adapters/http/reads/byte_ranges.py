"""`Range: bytes=...` as RFC 9110 §14.1.2 spells it, and the `multipart/byteranges` body of
§14.6 laid out part by part, so a response streams its parts and knows its length first.

What is served: one range or several (comma-separated, optional whitespace around commas),
each `first-last`, `first-` or `-suffix`; ranges past the end are clipped, ranges that start
past it are dropped. Overlapping ranges are coalesced (sorted and merged, as §14.6 allows);
otherwise the parts keep the order asked. No satisfiable range, a header this server does not
read, or more than RANGES_MAX ranges is a 416 (`Unsatisfiable`).
"""

from __future__ import annotations

import itertools
import re

import msgspec

RANGES_MAX = 32
"""More ranges than this are refused: many small ranges are a denial-of-service pattern
(RFC 9110 §14.2)."""
_SPEC = re.compile(r"(\d*)-(\d*)")
_UNIT = "bytes="


class Unsatisfiable(Exception):
    """The Range header names no part of the object this server serves; why, for the problem."""


class Part(msgspec.Struct, frozen=True):
    """One part of a multipart body: its head (boundary and headers), then bytes start..end."""

    head: bytes
    start: int
    end: int


def parse_ranges(header: str, size: int) -> list[tuple[int, int]]:
    """[start, end) of each satisfiable range in `header` over `size` bytes, as served."""
    header = header.strip()
    if header[: len(_UNIT)].lower() != _UNIT:  # the unit is case-insensitive (§14.1)
        raise Unsatisfiable("only byte ranges: bytes=first-last, bytes=first- or bytes=-n")
    specs = [s.strip(" \t") for s in header[len(_UNIT) :].split(",")]
    specs = [s for s in specs if s]  # RFC 9110's list rule: empty elements do not count
    if not specs:
        raise Unsatisfiable("no range: bytes=first-last, bytes=first- or bytes=-n")
    if len(specs) > RANGES_MAX:
        raise Unsatisfiable(f"at most {RANGES_MAX} ranges")
    ranges = []
    for spec in specs:
        found = _SPEC.fullmatch(spec)
        if found is None or found.group(1) == found.group(2) == "":
            raise Unsatisfiable(f"{spec!r}: a range is first-last, first- or -n")
        first, last = found.group(1), found.group(2)
        if first == "":
            length = int(last)
            if length > 0 and size > 0:
                ranges.append((max(size - length, 0), size))
            continue
        start = int(first)
        if last != "" and int(last) < start:
            raise Unsatisfiable(f"{spec!r}: its last byte is before its first")
        if start < size:
            ranges.append((start, size if last == "" else min(int(last) + 1, size)))
    if not ranges:
        raise Unsatisfiable(f"the object has {size} bytes")
    return _coalesced(ranges)


def _coalesced(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    ordered = sorted(ranges)
    if all(a[1] <= b[0] for a, b in itertools.pairwise(ordered)):
        return ranges  # no two overlap: the order asked
    merged = [ordered[0]]
    for start, end in ordered[1:]:
        if start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def multipart_parts(
    ranges: list[tuple[int, int]], size: int, media_type: str, boundary: str
) -> tuple[list[Part], bytes, int]:
    """The parts of a `multipart/byteranges` body, its closing delimiter, and its length."""
    parts = []
    for i, (start, end) in enumerate(ranges):
        head = (
            f"{'' if i == 0 else chr(13) + chr(10)}--{boundary}\r\n"
            f"Content-Type: {media_type}\r\n"
            f"Content-Range: bytes {start}-{end - 1}/{size}\r\n\r\n"
        ).encode("ascii")
        parts.append(Part(head, start, end))
    tail = f"\r\n--{boundary}--\r\n".encode("ascii")
    length = sum(len(p.head) + p.end - p.start for p in parts) + len(tail)
    return parts, tail, length
