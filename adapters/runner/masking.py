"""Masks secret values in a step's output before it leaves the runner: logs are kept forever.

Every form of every value (`secret_forms`) is found in one pass whatever their count; forms
that overlap or touch are masked as one, so no part of a value that overlaps another is shown.

Output arrives in arbitrary pieces, so a value may be split between two reads: `feed` holds
back the end of the output that could still begin a form, and `flush` masks what is left.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NoReturn

from adapters.runner.secret_forms import CompiledForms, compiled_forms

MASK = "***"
MASK_BYTES = MASK.encode()


class LogMasker:
    """Replaces every form of the given secret values with `***`, across piece boundaries.

    It works on the bytes the step wrote, before they are decoded. A piece is scanned where it
    lies, together with the few bytes held back from the piece before, and the masked output
    is the only copy made of it.
    """

    __slots__ = ("_covered", "_forms", "_tail")

    def __init__(self, values: Iterable[str]) -> None:
        self._forms: CompiledForms | None = compiled_forms(values)
        self._tail = b""
        self._covered = 0
        """How many bytes at the start of `_tail` a mask already sent stands for: a form that
        starts there continues that mask rather than starting another."""

    def __repr__(self) -> str:
        return f"LogMasker({0 if self._forms is None else self._forms.size} forms)"

    @property
    def hold_max(self) -> int:
        """The most bytes `feed` may hold back for the next piece (0 with nothing to mask)."""
        return 0 if self._forms is None else self._forms.hold_max

    def __reduce__(self) -> NoReturn:
        raise TypeError("LogMasker cannot be pickled: it holds secret values")

    def mask(self, text: str) -> str:
        """`text` with every form masked (a whole text: nothing is held back)."""
        if self._forms is None or not text:
            return text
        data = text.encode()
        found = self._forms.matches([data])
        return _replace(found, b"", data, len(data), 0)[0].decode(errors="replace")

    def feed(self, piece: bytes) -> bytes:
        """The masked bytes that are safe to send now; a possible start of a form waits."""
        forms = self._forms
        if forms is None or not piece:
            return piece
        tail = self._tail
        safe = self._safe_end(forms, tail, piece)
        found = forms.matches([tail, piece] if tail else [piece])
        masked, self._tail, self._covered = _replace(found, tail, piece, safe, self._covered)
        return masked

    def flush(self) -> bytes:
        """The masked rest of the output (the process ended)."""
        tail, self._tail = self._tail, b""
        if self._forms is None or not tail:
            return tail
        covered, self._covered = self._covered, 0
        return _replace(self._forms.matches([tail]), b"", tail, len(tail), covered)[0]

    @staticmethod
    def _safe_end(forms: CompiledForms, tail: bytes, piece: bytes) -> int:
        # Any form starting before `len - hold_max` fits whole in the text; past that point,
        # only a position whose rest is a prefix of some form must wait for the next piece.
        total = len(tail) + len(piece)
        if not forms.hold_max:
            return total
        if len(piece) >= forms.hold_max:
            region = piece[-forms.hold_max :]
        else:
            region = (tail + piece)[-forms.hold_max :]
        return total - len(region) + forms.first_open_start(region)


def _replace(
    found: list[tuple[int, int]], tail: bytes, piece: bytes, safe: int, covered: int
) -> tuple[bytes, bytes, int]:
    """`tail` and `piece` (one text, with the forms `found` in it) masked up to `safe` (its
    first `covered` bytes were, by a mask sent already), the rest unmasked, and how much of the
    rest the last mask already stands for."""
    skip = len(tail)
    if not found and not covered and not skip and safe == len(piece):
        return piece, b"", 0  # the usual piece: nothing to mask, nothing to hold
    view = memoryview(piece)
    out: list[bytes | memoryview] = []
    done = covered
    for start, end in found:
        if start < done:  # overlaps the mask: widen it
            if end > done:
                done = end
            continue
        if start >= safe:
            break
        if done >= skip:  # the usual case: all in the piece, a view of it (no copy)
            out.append(view[done - skip : start - skip])
        else:
            out += _cut(tail, view, done, start)
        out.append(MASK_BYTES)
        done = end
    if done >= skip:
        out.append(view[done - skip : safe - skip])
    else:
        out += _cut(tail, view, done, safe)
    rest = b"".join(_cut(tail, view, safe, skip + len(piece)))
    return b"".join(out), rest, max(done - safe, 0)


def _cut(tail: bytes, piece: memoryview, start: int, end: int) -> tuple[bytes, memoryview]:
    """Bytes `start` to `end` of `tail` and `piece` taken as one text, in two parts."""
    skip = len(tail)
    return tail[start:end], piece[max(start - skip, 0) : max(end - skip, 0)]
