"""Opens sealed personal values on the read path, or shows them as `ERASED` once forgotten.

One step used by `reader.current_envelopes` (so projections, timelines, the gateway's replays and
the audit history and export see the same thing), with the subjects' keys fetched once a batch.
The composition root installs the keys once per process: a process that never did (a tool with
no instance key) sees sealed values as stored, never clear text. A process may hold several
(tests run apps of different instances side by side): each data key opens with the instance key
that wrapped it, which AES-GCM's tag tells apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol, TypeVar

import msgspec

from adapters.store.personal import cipher
from adapters.store.personal.keys import Conn, SubjectKeys
from domain.envelope import EventMetadata
from domain.personal import ERASED

_installed: list[SubjectKeys] = []


class _Envelope(Protocol):
    """An event envelope or an auditor's AuditEvent: whatever carries `data` and `metadata`."""

    @property
    def data(self) -> dict[str, Any] | msgspec.Raw: ...
    @property
    def metadata(self) -> EventMetadata: ...


E = TypeVar("E", bound=_Envelope)


def install(keys: SubjectKeys) -> None:
    """Let this process's readers open sealed values (the composition root calls it)."""
    if all(keys != known for known in _installed):
        _installed.insert(0, keys)


def installed() -> tuple[SubjectKeys, ...]:
    return tuple(_installed)


_PREFIX = cipher.PREFIX.encode()
_decode = msgspec.json.Decoder(dict[str, Any]).decode


def _data(envelope: _Envelope) -> dict[str, Any]:
    data = envelope.data
    if isinstance(data, msgspec.Raw):
        # The auditors' reads keep data as stored bytes: decode only what holds a sealed value.
        return _decode(data) if _PREFIX in bytes(memoryview(data)) else {}
    return data


def _sealed_in(envelope: _Envelope) -> Iterable[str]:
    yield from _walk(_data(envelope))
    if cipher.is_sealed(envelope.metadata.actor):
        yield envelope.metadata.actor  # type: ignore[misc]


async def reveal(conn: Conn, envelopes: Sequence[E]) -> list[E]:
    """`envelopes` with each sealed value opened, or `ERASED` if its subject's key is gone."""
    subjects = {
        cipher.subject_of_sealed(value) for envelope in envelopes for value in _sealed_in(envelope)
    }
    if not _installed or not subjects:
        return list(envelopes)
    found = await data_keys(conn, subjects)
    return [
        _open(envelope, found) if any(_sealed_in(envelope)) else envelope for envelope in envelopes
    ]


async def data_keys(conn: Conn, subjects: set[str]) -> dict[str, bytes]:
    """The data keys of `subjects` this process can unwrap; an erased subject has none."""
    wrapped = await _installed[0].wrapped(conn, subjects)
    found: dict[str, bytes] = {}
    for subject, key in wrapped.items():
        for keys in _installed:
            if (opened := keys.unwrap(subject, key)) is not None:
                found[subject] = opened
                break
    return found


def open_value(value: str, found: dict[str, bytes]) -> str:
    key = found.get(cipher.subject_of_sealed(value))
    opened = cipher.open_sealed(value, key) if key is not None else None
    return ERASED if opened is None else opened


def _walk(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        if value.startswith(cipher.PREFIX):
            yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def _opened(value: Any, found: dict[str, bytes]) -> Any:
    if isinstance(value, str):
        return open_value(value, found) if value.startswith(cipher.PREFIX) else value
    if isinstance(value, dict):
        return {name: _opened(item, found) for name, item in value.items()}
    if isinstance(value, list):
        return [_opened(item, found) for item in value]
    return value


def _open(envelope: E, found: dict[str, bytes]) -> E:
    data: Any = _opened(_data(envelope), found)
    if isinstance(envelope.data, msgspec.Raw):
        data = msgspec.Raw(msgspec.json.encode(data))
    metadata = envelope.metadata
    if cipher.is_sealed(metadata.actor):
        metadata = msgspec.structs.replace(metadata, actor=open_value(metadata.actor, found))  # type: ignore[arg-type]
    return msgspec.structs.replace(envelope, data=data, metadata=metadata)  # type: ignore[type-var]
