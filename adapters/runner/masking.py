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
        return _replace(self._forms, [data], len(data), 0)[0].decode(errors="replace")

    def feed(self, piece: bytes) -> bytes:
        """The masked bytes that are safe to send now; a possible start of a form waits."""
        if self._forms is None or not piece:
            return piece
        parts: list[bytes | memoryview] = [self._tail, piece] if self._tail else [piece]
        safe = self._safe_end(self._forms, piece)
        masked, self._tail, self._covered = _replace(self._forms, parts, safe, self._covered)
        return masked

    def flush(self) -> bytes:
        """The masked rest of the output (the process ended)."""
        tail, self._tail = self._tail, b""
        if self._forms is None or not tail:
            return tail
        covered, self._covered = self._covered, 0
        return _replace(self._forms, [tail], len(tail), covered)[0]

    def _safe_end(self, forms: CompiledForms, piece: bytes) -> int:
        # Any form starting before `len - hold_max` fits whole in the text; past that point,
        # only a position whose rest is a prefix of some form must wait for the next piece.
        total = len(self._tail) + len(piece)
        if not forms.hold_max:
            return total
        if len(piece) >= forms.hold_max:
            region = piece[-forms.hold_max :]
        else:
            region = (self._tail + piece)[-forms.hold_max :]
        return total - len(region) + forms.first_open_start(region)


def _replace(
    forms: CompiledForms, parts: list[bytes | memoryview], safe: int, covered: int
) -> tuple[bytes, bytes, int]:
    """The parts (one text) masked up to `safe` (its first `covered` bytes were, by a mask sent
    already), the rest unmasked, and how much of the rest the last mask already stands for."""
    found = forms.matches(parts)
    total = sum(len(part) for part in parts)
    if not found and not covered and safe == total and len(parts) == 1:
        return bytes(parts[0]), b"", 0  # the usual piece: nothing to mask, nothing to hold
    text = _Joined(parts)
    out: list[bytes | memoryview] = []
    done = covered
    for start, end in found:
        if start < done:  # overlaps the mask: widen it
            if end > done:
                done = end
            continue
        if start >= safe:
            break
        text.cut(done, start, out)
        out.append(MASK_BYTES)
        done = end
    text.cut(done, safe, out)
    return b"".join(out), text.rest(safe), max(done - safe, 0)


class _Joined:
    """Parts taken as one text, sliced without joining them first."""

    __slots__ = ("_last", "_last_at", "_parts", "_total")

    def __init__(self, parts: list[bytes | memoryview]) -> None:
        self._parts = [(memoryview(part), len(part)) for part in parts]
        self._last = self._parts[-1][0]
        self._total = sum(size for _, size in self._parts)
        self._last_at = self._total - len(self._last)

    def cut(self, start: int, end: int, out: list[bytes | memoryview]) -> None:
        """Appends the text from `start` to `end` to `out`, part by part (views, no copies)."""
        if start >= self._last_at:  # the usual case: all in the piece just read
            out.append(self._last[start - self._last_at : end - self._last_at])
            return
        at = 0
        for view, size in self._parts:
            if start < at + size and end > at:
                out.append(view[max(start - at, 0) : min(end - at, size)])
            at += size

    def rest(self, start: int) -> bytes:
        out: list[bytes | memoryview] = []
        self.cut(start, self._total, out)
        return b"".join(out)
