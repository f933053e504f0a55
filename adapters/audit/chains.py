"""Checks stored rows against their hash chains and names, for each stream, the first bad link.

Pure: it is fed rows in global position order (the table's natural order, the cheapest to
read) and knows nothing of the database. Each hash is recomputed with the store's own
canonical encoding, so what passes here is exactly what `append_batch` chained. Within a
stream, positions must rise with versions 1, 2, 3, ...; globally, positions have no hole.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import msgspec

from adapters.store.encoding import (
    GENESIS_HASH,
    CanonicalEvent,
    canonical_bytes,
    chain_hash,
    encode_canonical,
)

Kind = Literal["hash_mismatch", "version_gap", "versions_swapped", "out_of_order", "position_gap"]

Row = tuple[int, UUID, str, str, int, str, int, datetime, Any, Any, bytes]
"""position, event_id, stream_id, stream_type, version, type, schema_version, recorded_at,
data, metadata (JSON text or bytes, as stored), hash."""

# A stream's state while scanning: its next version, its last good hash, and a version jump
# waiting for the stream's next event to tell a deletion from a reordering.
_EXPECTED, _PREV, _JUMP = range(3)
_BROKEN = False


class Break(msgspec.Struct, frozen=True, kw_only=True):
    """The first link of a stream that does not hold, or a hole in the global positions."""

    kind: Kind
    position: int
    """Where it shows first: the event that fails, or the first missing position."""
    stream_id: str | None = None
    version: int | None = None
    """The version stored on the event at `position`."""
    expected_version: int | None = None
    """The version the chain needed there (it differs from `version` for a gap or a swap)."""
    detail: str


def _hash(prev: bytes, row: Row, version: int) -> bytes:
    canonical = canonical_bytes(
        event_id=row[1],
        stream_id=row[2],
        stream_type=row[3],
        version=version,
        type=row[5],
        schema_version=row[6],
        recorded_at=row[7],
        data=row[8],
        metadata=row[9],
    )
    return chain_hash(prev, canonical)


class ChainChecker:
    """Feed it rows in position order, in batches of any size; `finish()` gives the breaks.

    Once a stream has broken, the rest of it is skipped: nothing later in it can be trusted,
    and one finding per stream is what an auditor acts on.
    """

    def __init__(self, *, check_positions: bool) -> None:
        self.breaks: list[Break] = []
        self.events = 0
        self.gaps = 0
        self._check_positions = check_positions
        self._position = 0
        self._streams: dict[str, list[Any] | Literal[False]] = {}

    @property
    def streams(self) -> int:
        return len(self._streams)

    @property
    def broken_streams(self) -> int:
        return len(self.breaks) - self.gaps

    def feed(self, rows: Iterable[Row]) -> None:
        streams, sha256, encode, raw, canonical = (
            self._streams,
            hashlib.sha256,
            encode_canonical,
            msgspec.Raw,
            CanonicalEvent,
        )
        position = self._position
        check_positions = self._check_positions
        events = 0
        for row in rows:
            events += 1
            pos, event_id, stream_id, stream_type, version, type_, schema, at, data, meta, h = row
            if check_positions and pos != position + 1:
                self._position_gap(position + 1, pos - 1)
            position = pos
            state = streams.get(stream_id)
            if state is None:
                state = streams[stream_id] = [1, GENESIS_HASH, None]
            elif state is _BROKEN:
                continue
            if state[_JUMP] is not None:
                self._judge_jump(state, row)
                streams[stream_id] = _BROKEN
                continue
            if version != state[_EXPECTED]:
                if self._version_jumped(state, row):
                    streams[stream_id] = _BROKEN
                continue
            # `_hash` inlined, with its globals bound to locals: this loop is the whole cost.
            digest = sha256(
                state[_PREV]
                + encode(
                    canonical(
                        event_id=event_id,
                        stream_id=stream_id,
                        stream_type=stream_type,
                        version=version,
                        type=type_,
                        schema_version=schema,
                        recorded_at=at,
                        data=raw(data),
                        metadata=raw(meta),
                    )
                )
            ).digest()
            if digest != h:
                self._mismatch(row)
                streams[stream_id] = _BROKEN
                continue
            state[_EXPECTED], state[_PREV] = version + 1, h
        self.events += events
        self._position = position

    def finish(self) -> list[Break]:
        """Judge the jumps no later event resolved; every break found, by position."""
        for stream_id, state in self._streams.items():
            if state is not _BROKEN and state[_JUMP] is not None:
                self._gap(state[_JUMP], state[_EXPECTED])
                self._streams[stream_id] = _BROKEN
        self.breaks.sort(key=lambda b: b.position)
        return self.breaks

    def _version_jumped(self, state: list[Any], row: Row) -> bool:
        """A version other than the next: True once judged, False while it waits."""
        expected = state[_EXPECTED]
        if row[4] < expected:
            self._out_of_order(row, expected)
            return True
        if _hash(state[_PREV], row, expected) == row[10]:
            # The event chained as the next version carries another number: renumbered.
            self._swapped(row, expected)
            return True
        # Deleted events, or a later event moved before the next one: its next event tells.
        state[_JUMP] = row
        return False

    def _judge_jump(self, state: list[Any], row: Row) -> None:
        jumped, expected = state[_JUMP], state[_EXPECTED]
        if row[4] == expected:
            self._out_of_order(jumped, expected)
        else:
            self._gap(jumped, expected)

    def _break(self, kind: Kind, row: Row, expected: int, detail: str) -> None:
        self.breaks.append(
            Break(
                kind=kind,
                position=row[0],
                stream_id=row[2],
                version=row[4],
                expected_version=expected,
                detail=detail,
            )
        )

    def _mismatch(self, row: Row) -> None:
        detail = (
            f"the stored hash does not match the event ({row[5]}): its data, metadata or "
            "another hashed field was changed after it was written"
        )
        self._break("hash_mismatch", row, row[4], detail)

    def _swapped(self, row: Row, expected: int) -> None:
        detail = (
            f"the event stored as version {row[4]} ({row[5]}) was chained as version {expected}: "
            "its version number was changed (versions swapped)"
        )
        self._break("versions_swapped", row, expected, detail)

    def _gap(self, row: Row, expected: int) -> None:
        version = row[4]
        missing = f"version {expected}" if version == expected + 1 else f"versions {expected}-"
        missing += "" if version == expected + 1 else str(version - 1)
        detail = f"{missing} missing (deleted?): version {version} follows {expected - 1}"
        self._break("version_gap", row, expected, detail)

    def _out_of_order(self, row: Row, expected: int) -> None:
        detail = (
            f"version {row[4]} sits at position {row[0]}, before version {expected}: "
            "the stream's events were reordered"
        )
        self._break("out_of_order", row, expected, detail)

    def _position_gap(self, first_missing: int, last_missing: int) -> None:
        self.gaps += 1
        span = (
            f"position {first_missing} is"
            if first_missing == last_missing
            else f"positions {first_missing}-{last_missing} are"
        )
        detail = f"{span} missing from the global feed (appends never leave holes: deleted?)"
        self.breaks.append(Break(kind="position_gap", position=first_missing, detail=detail))
