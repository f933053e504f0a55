"""Masks secret values in a step's output before it leaves the runner: logs are kept forever.

Each value is masked as written and in the forms a step commonly prints it in: base64
(standard and URL-safe, also inside a longer base64 text at any byte alignment, as in an HTTP
Basic header), URL-encoded, JSON-escaped, and each line of a multi-line value. All forms are
found in one pass whatever their count, and where they overlap the leftmost, then longest,
wins: a value printed whole is masked whole rather than line by line.

Output arrives in arbitrary pieces, so a value may be split between two reads: `feed` holds
back the end of the output that could still begin a form, and `flush` masks what is left.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from typing import NoReturn
from urllib.parse import quote, quote_plus

import hyperscan

MASK = "***"
MASK_BYTES = MASK.encode()
HEAD_BYTES = 4
MIN_FORM_CHARS = 4
"""A derived form or a line shorter than this is not masked: masking every `a` or `{}` in a log
would hide everything and protect nothing. A whole value is always masked, however short."""


def secret_forms(value: str) -> set[str]:
    """The texts that reveal `value`: itself, its encodings, and its lines."""
    if not value:
        return set()
    raw = value.encode()
    derived = {
        quote(value, safe=""),
        quote_plus(value, safe=""),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        *_base64_forms(raw),
        *(line.strip() for line in value.splitlines()),
    }
    return {value} | {form for form in derived if len(form) >= MIN_FORM_CHARS}


def _base64_forms(raw: bytes) -> Iterable[str]:
    # Inside a longer base64 text the value starts at byte offset 0, 1 or 2 of a 3-byte group;
    # the characters that also carry a neighbour's bits differ by context and are left out.
    for offset in range(3):
        padded = b"\0" * offset + raw
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(padded).decode("ascii")
            start = (0, 2, 3)[offset]
            end = len(text) if len(padded) % 3 == 0 else len(text.rstrip("=")) - 1
            yield text[start:end]
            if offset == 0:
                yield text  # the value alone, with its padding


class LogMasker:
    """Replaces every form of the given secret values with `***`, across piece boundaries.

    It works on the bytes the step wrote, before they are decoded. Hyperscan (SIMD literal
    matching) finds every form in one pass whatever their number; where forms overlap, the
    leftmost, then the longest, is masked.
    """

    __slots__ = ("_forms", "_heads", "_hold_max", "_prefixes", "_size", "_tail")

    def __init__(self, values: Iterable[str]) -> None:
        forms = sorted({f.encode() for v in values for f in secret_forms(v)})
        self._size = len(forms)
        self._forms = _literals(forms)
        self._hold_max = max((len(f) for f in forms), default=1) - 1
        # Every proper prefix, so a held-back end is found by one lookup a position; the forms'
        # first bytes, searched the same way, name the few positions worth a lookup.
        self._prefixes = frozenset(f[:n] for f in forms for n in range(1, len(f)))
        self._heads = _literals(sorted({f[:HEAD_BYTES] for f in forms}))
        self._tail = b""

    def __repr__(self) -> str:
        return f"LogMasker({self._size} forms)"  # never the forms themselves

    @property
    def hold_max(self) -> int:
        """The most bytes `feed` may hold back for the next piece (0 with nothing to mask)."""
        return 0 if self._forms is None else self._hold_max

    def __reduce__(self) -> NoReturn:
        raise TypeError("LogMasker cannot be pickled: it holds secret values")

    def mask(self, text: str) -> str:
        """`text` with every form masked (a whole text: nothing is held back)."""
        if self._forms is None:
            return text
        data = text.encode()
        return self._replace(data, len(data))[0].decode(errors="replace")

    def feed(self, piece: bytes) -> bytes:
        """The masked bytes that are safe to send now; a possible start of a form waits."""
        if self._forms is None:
            return piece
        data = self._tail + piece if self._tail else piece
        masked, self._tail = self._replace(data, self._safe_end(data))
        return masked

    def flush(self) -> bytes:
        """The masked rest of the output (the process ended)."""
        tail, self._tail = self._tail, b""
        return tail if self._forms is None else self._replace(tail, len(tail))[0]

    def _replace(self, data: bytes, safe: int) -> tuple[bytes, bytes]:
        """`data` masked up to `safe` (or past it, to a match's end), and the rest unmasked."""
        found = _matches(self._forms, data)
        if not found and safe == len(data):
            return data, b""  # the usual piece: nothing to mask, nothing to hold
        view = memoryview(data)  # slices without copies: the join copies once
        out: list[bytes | memoryview] = []
        done = 0
        for start, end in sorted(found, key=lambda m: (m[0], -m[1])):
            if start >= safe:
                break
            if start < done:
                continue  # inside a form masked already
            out.append(view[done:start])
            out.append(MASK_BYTES)
            done = end
        cut = max(safe, done)
        out.append(view[done:cut])
        return b"".join(out), data[cut:]

    def _safe_end(self, data: bytes) -> int:
        # Any form starting before `len - hold_max` fits whole in `data`; past that point, only
        # a position whose rest is a prefix of some form must wait for the next piece.
        first = max(len(data) - self._hold_max, 0)
        region = data[first:]
        # A head found whole starts a candidate; so may any of the last few bytes, too short
        # to hold a whole head.
        starts = {start for start, _ in _matches(self._heads, region)}
        for at in sorted(starts.union(range(max(len(region) - HEAD_BYTES, 0), len(region)))):
            if region[at:] in self._prefixes:
                return first + at
        return len(data)


class _Literals:
    """A Hyperscan database of literal forms, with each form's length by its id.

    Hyperscan reports where a match ends; a literal's start is its end less its length, so the
    scan needs no start-of-match tracking (HS_FLAG_SOM_LEFTMOST), which costs about a third of
    the masker's throughput.
    """

    __slots__ = ("database", "lengths")

    def __init__(self, forms: list[bytes]) -> None:
        self.lengths = [len(form) for form in forms]
        self.database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        self.database.compile(
            # Each byte as \xHH: a literal whatever it holds (newlines, quotes, non-ASCII).
            expressions=[b"".join(b"\\x%02x" % byte for byte in form) for form in forms],
            ids=list(range(len(forms))),
            elements=len(forms),
            flags=[0] * len(forms),
        )


def _literals(forms: list[bytes]) -> _Literals | None:
    return _Literals(forms) if forms else None


def _matches(literals: _Literals | None, data: bytes) -> list[tuple[int, int]]:
    """Every (start, end) of every form in `data`, overlapping ones included."""
    found: list[tuple[int, int]] = []
    if literals is not None and data:
        lengths = literals.lengths

        def on_match(form: int, _start: int, end: int, _flags: int, _context: object) -> None:
            found.append((end - lengths[form], end))

        literals.database.scan(data, match_event_handler=on_match)
    return found
