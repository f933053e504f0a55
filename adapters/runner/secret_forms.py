"""The texts that reveal a set of secret values, compiled for the log masker and kept a while.

Each value is masked as written and in the forms a step commonly prints it in: base64
(standard and URL-safe, also inside a longer base64 text at any byte alignment, as in an HTTP
Basic header), URL-encoded, JSON-escaped, and each line of a multi-line value.

Compiling a set's forms takes Hyperscan 100 to 300 ms, on the runner's event loop, before each
attempt's step starts; the same set (the retries of a step, the steps of a run, every step of a
runner masking only its own environment's values) is compiled once in a while instead. The
cache is in memory only, keyed by a digest of the values, so a set is only ever reused for
exactly the same values, and holds them no longer than `CACHE_SECONDS` after it compiled them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Iterable
from typing import NoReturn
from urllib.parse import quote, quote_plus

import hyperscan
from cachetools import TTLCache, cached

HEAD_BYTES = 4
MIN_FORM_CHARS = 4
"""A derived form or a line shorter than this is not masked: masking every `a` or `{}` in a log
would hide everything and protect nothing. A whole value is always masked, however short."""
CACHE_SETS = 16
CACHE_SECONDS = 600.0


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


class CompiledForms:
    """Every form of a set of values, ready to be found in output split into pieces.

    Immutable once built, so maskers of several attempts share it: a scan keeps no state between
    calls. Every scan runs on the event loop's thread, one at a time: each database has one
    scratch space, and the binding releases the GIL while it scans without locking the database
    (it locks only on free-threaded Python), so a scan on another thread meanwhile would fail.
    """

    __slots__ = ("_forms", "_heads", "_prefixes", "hold_max", "size")

    def __init__(self, forms: list[bytes]) -> None:
        self.size = len(forms)
        # Vectored: a held-back end and the next piece are scanned as one text, without a copy.
        self._forms = _Literals(forms, hyperscan.HS_MODE_VECTORED)
        self.hold_max = max(len(f) for f in forms) - 1
        """The most bytes of output that may still be the start of a form."""
        # Every proper prefix, so a held-back end is found by one lookup a position; the forms'
        # first bytes, searched the same way, name the few positions worth a lookup.
        self._prefixes = frozenset(f[:n] for f in forms for n in range(1, len(f)))
        self._heads = _Literals(sorted({f[:HEAD_BYTES] for f in forms}), hyperscan.HS_MODE_BLOCK)

    def __repr__(self) -> str:
        return f"CompiledForms({self.size} forms)"  # never the forms themselves

    def __reduce__(self) -> NoReturn:
        raise TypeError("CompiledForms cannot be pickled: it holds secret values")

    def matches(self, parts: list[bytes | memoryview]) -> list[tuple[int, int]]:
        """Every (start, end) of every form in the parts taken as one text, overlapping ones
        included, by start."""
        found = self._forms.scan(parts)
        found.sort()
        return found

    def first_open_start(self, region: bytes) -> int:
        """The first position of `region` whose rest is a proper start of some form (a form
        that the next piece may complete), or `len(region)`."""
        if not region:
            return 0
        # A head found whole starts a candidate; so may any of the last few bytes, too short
        # to hold a whole head.
        heads = self._heads.scan(region)
        last_few = range(max(len(region) - HEAD_BYTES, 0), len(region))
        candidates = sorted({start for start, _ in heads}.union(last_few)) if heads else last_few
        prefixes = self._prefixes
        for at in candidates:
            if region[at:] in prefixes:
                return at
        return len(region)


def compiled_forms(values: Iterable[str]) -> CompiledForms | None:
    """The compiled forms of `values` (None when there is nothing to mask), from the cache
    when the same values were compiled less than `CACHE_SECONDS` ago."""
    unique = frozenset(value for value in values if value)
    return _compile(unique) if unique else None


def _digest(values: frozenset[str]) -> bytes:
    hashed = hashlib.sha256()
    for value in sorted(values):
        raw = value.encode()
        hashed.update(len(raw).to_bytes(8, "big") + raw)  # lengths, so no two sets collide
    return hashed.digest()


@cached(TTLCache(CACHE_SETS, CACHE_SECONDS), key=_digest, lock=threading.Lock())
def _compile(values: frozenset[str]) -> CompiledForms:
    return CompiledForms(sorted({form.encode() for v in values for form in secret_forms(v)}))


class _Literals:
    """A Hyperscan database of literal forms, with each form's length by its id.

    Hyperscan reports where a match ends; a literal's start is its end less its length, so the
    scan needs no start-of-match tracking (HS_FLAG_SOM_LEFTMOST), which costs about a third of
    the masker's throughput.
    """

    __slots__ = ("_database", "_lengths")

    def __init__(self, forms: list[bytes], mode: int) -> None:
        self._lengths = [len(form) for form in forms]
        self._database = hyperscan.Database(mode=mode)
        self._database.compile(
            # Each byte as \xHH: a literal whatever it holds (newlines, quotes, non-ASCII).
            expressions=[b"".join(b"\\x%02x" % byte for byte in form) for form in forms],
            ids=list(range(len(forms))),
            elements=len(forms),
            flags=[0] * len(forms),
        )

    def scan(self, data: bytes | list[bytes | memoryview]) -> list[tuple[int, int]]:
        found: list[tuple[int, int]] = []
        lengths = self._lengths

        def on_match(form: int, _start: int, end: int, _flags: int, _context: object) -> None:
            found.append((end - lengths[form], end))

        self._database.scan(data, match_event_handler=on_match)
        return found
