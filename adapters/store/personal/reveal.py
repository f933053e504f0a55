"""Opens sealed personal values on the read path, or shows them as `ERASED` once forgotten.

One step used by `reader.current_envelopes` (so projections, timelines, the gateway's replays and
the audit history and export see the same thing), with the subjects' keys fetched once a batch.
The composition root installs the keys once per process: a process that never did (a tool with
no instance key) sees sealed values as stored, never clear text. A process may hold several
(tests run apps of different instances side by side): each data key opens with the instance key
that wrapped it, which AES-GCM's tag tells apart.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
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


class _Opener:
    """Opens the sealed values of one batch: each distinct value once (an append's events share
    their metadata, so its sealed actor repeats), each subject's cipher made once."""

    def __init__(self, keys: dict[str, bytes]) -> None:
        self._ciphers = {subject: cipher.AESGCM(key) for subject, key in keys.items()}
        self._done: dict[str, str] = {}
        self._metadata: dict[EventMetadata, EventMetadata] = {}

    def __call__(self, value: str) -> str:
        if (known := self._done.get(value)) is None:
            aead = self._ciphers.get(cipher.subject_of_sealed(value))
            opened = cipher.open_with(value, aead) if aead is not None else None
            known = self._done[value] = ERASED if opened is None else opened
        return known

    def metadata(self, metadata: EventMetadata) -> EventMetadata:
        """`metadata` with its sealed actor opened; an append's events share one, opened once."""
        if (known := self._metadata.get(metadata)) is None:
            known = self._metadata[metadata] = msgspec.structs.replace(
                metadata,
                actor=self(metadata.actor),  # type: ignore[arg-type]
            )
        return known


def _sealed_in(
    data: dict[str, Any], envelope: _Envelope, fields: list[str] | None = None
) -> list[str]:
    """The sealed values of `data` (as `_collect` finds them) and the sealed actor; `fields`,
    if given, gets the names of data's top-level fields that hold one (`_opened_at`)."""
    found: list[str] = []
    for name, item in data.items():
        if isinstance(item, str):
            if item.startswith(_PREFIX_TEXT):
                found.append(item)
                if fields is not None:
                    fields.append(name)
        elif isinstance(item, (dict, list)):
            before = len(found)
            _collect(item, found)
            if fields is not None and len(found) > before:
                fields.append(name)
    if cipher.is_sealed(envelope.metadata.actor):
        found.append(envelope.metadata.actor)  # type: ignore[arg-type]
    return found


Unread = Mapping[str, Collection[str]]
"""Event type -> top-level fields of its data a reader never reads: left sealed, as stored."""


async def reveal(conn: Conn, envelopes: Sequence[E], *, unread: Unread | None = None) -> list[E]:
    """`envelopes` with each sealed value opened, or `ERASED` if its subject's key is gone;
    the fields `unread` names are left as stored (no key read, decryption nor inflate)."""
    if not _installed:
        return list(envelopes)
    datas = [_data(envelope) for envelope in envelopes]
    if unread:
        datas = [
            _without(data, fields) if (fields := unread.get(envelope.type)) else data
            for data, envelope in zip(datas, envelopes, strict=True)
        ]
    fields: list[list[str]] = [[] for _ in envelopes]
    sealed = [
        _sealed_in(data, envelope, where)
        for data, envelope, where in zip(datas, envelopes, fields, strict=True)
    ]
    subjects = {cipher.subject_of_sealed(value) for values in sealed for value in values}
    if not subjects:
        return list(envelopes)
    opener = _Opener(await data_keys(conn, subjects))
    return [
        _open(envelope, data, opener, where) if values else envelope
        for envelope, data, values, where in zip(envelopes, datas, sealed, fields, strict=True)
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


_PREFIX_TEXT = cipher.PREFIX


def _collect(value: dict[str, Any] | list[Any], found: list[str]) -> None:
    """The sealed strings in `value`, at any depth, appended to `found` in order. A loop over
    each container's items, not a generator per value: every event a reader reveals is walked."""
    for item in value.values() if isinstance(value, dict) else value:
        if isinstance(item, str):
            if item.startswith(_PREFIX_TEXT):
                found.append(item)
        elif isinstance(item, (dict, list)):
            _collect(item, found)


def _opened(value: Any, opener: _Opener) -> Any:
    """`value` with each sealed string opened. A container that holds none is returned as it is
    (shared, not copied); one that does is copied with only those items replaced."""
    if isinstance(value, str):
        return opener(value) if value.startswith(_PREFIX_TEXT) else value
    if isinstance(value, dict):
        copied: dict[str, Any] | None = None
        for name, item in value.items():
            if isinstance(item, (str, dict, list)) and (new := _opened(item, opener)) is not item:
                if copied is None:
                    copied = dict(value)
                copied[name] = new
        return value if copied is None else copied
    if isinstance(value, list):
        items: list[Any] | None = None
        for n, item in enumerate(value):
            if isinstance(item, (str, dict, list)) and (new := _opened(item, opener)) is not item:
                if items is None:
                    items = list(value)
                items[n] = new
        return value if items is None else items
    return value


def _without(data: dict[str, Any], fields: Collection[str]) -> dict[str, Any]:
    """`data` less `fields` (a copy only when it has one of them)."""
    if not any(field in data for field in fields):
        return data
    return {name: value for name, value in data.items() if name not in fields}


def _opened_at(data: dict[str, Any], fields: Sequence[str], opener: _Opener) -> dict[str, Any]:
    """`_opened(data, opener)`, given the top-level `fields` that hold a sealed value
    (`_sealed_in` found them): only those are walked again, not the rest (a webhook delivery's
    headers and ids). The same copy: each of them changes (an opened text is never the sealed
    string), every other field is shared as it is, and data with none is returned as it is."""
    if not fields:
        return data
    copied = dict(data)
    for name in fields:
        copied[name] = _opened(data[name], opener)
    return copied


def _open(envelope: E, data: dict[str, Any], opener: _Opener, fields: Sequence[str]) -> E:
    metadata = envelope.metadata
    if cipher.is_sealed(metadata.actor):
        metadata = opener.metadata(metadata)
    if not data:  # nothing sealed in data (stored bytes left as they are)
        return msgspec.structs.replace(envelope, metadata=metadata)  # type: ignore[type-var]
    opened: Any = _opened_at(data, fields, opener)
    if isinstance(envelope.data, dict) and len(data) < len(envelope.data):
        # Fields left unread put back as stored, in their places.
        opened = {**envelope.data, **opened}
    if isinstance(envelope.data, msgspec.Raw):
        opened = msgspec.Raw(msgspec.json.encode(opened))
    return msgspec.structs.replace(envelope, data=opened, metadata=metadata)  # type: ignore[type-var]
