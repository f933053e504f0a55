"""Stable event names and schema versions: aggregate events to stored records and back.

Each aggregate declares a `stream_type`; each of its event classes declares a stable
`event_type`, its current `schema_version` (default 1), and one static method
`upcast_v{n}_to_v{n+1}(data) -> data` per older version. The stored name is always the
`event_type`, never a Python path, so renaming or moving a class orphans no history.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import cache
from types import MappingProxyType
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.domain import Aggregate, CanInitAggregate, CanMutateAggregate
from eventsourcing.utils import get_topic

from domain.api_key import ApiKey
from domain.approver_group import ApproverGroup
from domain.commit_status import CommitStatusReport
from domain.concurrency_group import ConcurrencyGroup
from domain.data_subject import DataSubject
from domain.environment import Environment
from domain.notification_rule import NotificationRule
from domain.pipeline import Pipeline
from domain.project import Project
from domain.projection_quarantine import ProjectionQuarantine
from domain.run import Run
from domain.runner import Runner
from domain.schedule_skip import ScheduleSkip
from domain.secret import Secret
from domain.subscription import Subscription
from domain.system_notice import SystemNotice
from domain.webhook_delivery import WebhookDelivery
from domain.webhook_source import WebhookSource

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
DomainEvent = CanMutateAggregate[UUID]

AGGREGATES: tuple[type[Aggregate], ...] = (
    Project,
    Pipeline,
    Run,
    ApiKey,
    WebhookSource,
    WebhookDelivery,
    Runner,
    DataSubject,
    ProjectionQuarantine,
    Subscription,
    CommitStatusReport,
    SystemNotice,
    Environment,
    Secret,
    ConcurrencyGroup,
    ScheduleSkip,
    NotificationRule,
    ApproverGroup,
)
OCCURRED_AT = "occurred_at"
"""Key of the event's domain timestamp (ISO 8601) inside its data."""

# Attributes every eventsourcing event carries that the envelope already holds.
_ENVELOPE_FIELDS = frozenset(
    {"originator_id", "originator_version", "originator_topic", "timestamp"}
)
_UPCASTER = re.compile(r"upcast_v(\d+)_to_v(\d+)")


class RegistryError(Exception):
    """The registry was declared wrongly, or asked about what it does not know."""


class UnknownEventType(RegistryError):
    pass


class UnknownSchemaVersion(RegistryError):
    pass


class InvalidEventData(RegistryError):
    """An event's data does not match its schema (after upcasting, on read)."""


class EventRecord(msgspec.Struct, frozen=True, kw_only=True):
    """An event as the store keeps it: stable name, schema version, JSON-ready data."""

    type: str
    schema_version: int
    data: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class EventType:
    name: str
    cls: type[DomainEvent]
    aggregate: type[Aggregate]
    schema_version: int
    data_type: type[msgspec.Struct]
    """Typed shape of the current version's data; decodes and validates it."""
    fields: tuple[str, ...]


class Registry:
    def __init__(self, *aggregates: type[Aggregate]) -> None:
        self._stream_types: dict[type[Aggregate], str] = {}
        self._by_name: dict[str, EventType] = {}
        self._by_cls: dict[type, EventType] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}
        for aggregate in aggregates:
            self._register(aggregate)

    def stream_types(self) -> frozenset[str]:
        return frozenset(self._stream_types.values())

    def stream_type(self, aggregate: type[Aggregate]) -> str:
        try:
            return self._stream_types[aggregate]
        except KeyError:
            raise RegistryError(f"aggregate {aggregate.__qualname__} is not registered") from None

    def event_type(self, key: str | type) -> EventType:
        found = self._by_name.get(key) if isinstance(key, str) else self._by_cls.get(key)
        if found is None:
            raise UnknownEventType(f"no event registered as {key!r}")
        return found

    @property
    def upcasters(self) -> Mapping[tuple[str, int], Upcaster]:
        """`(event name, from version) -> upcaster to from version + 1`."""
        return MappingProxyType(self._upcasters)

    def encode(self, event: DomainEvent) -> EventRecord:
        """The record to store for a new event, validated against its current schema."""
        spec = self.event_type(type(event))
        payload = spec.data_type(
            **{name: getattr(event, name) for name in spec.fields},
            **{OCCURRED_AT: event.timestamp},
        )
        try:
            data = msgspec.to_builtins(payload)
        except TypeError as e:
            raise InvalidEventData(f"{spec.name}: {e}") from e
        # Checked on write because a record that fails on read would poison its stream.
        self._load(spec, data)
        return EventRecord(type=spec.name, schema_version=spec.schema_version, data=data)

    def upcast(self, name: str, schema_version: int, data: dict[str, Any]) -> dict[str, Any]:
        """Bring stored data up to the event's current schema version."""
        spec = self.event_type(name)
        if not 1 <= schema_version <= spec.schema_version:
            raise UnknownSchemaVersion(
                f"{name} v{schema_version}: known versions are 1..{spec.schema_version}"
            )
        for version in range(schema_version, spec.schema_version):
            data = self._upcasters[name, version](dict(data))
        return data

    def decode(
        self, record: EventRecord, *, originator_id: UUID, originator_version: int
    ) -> DomainEvent:
        """The domain event for a stored record, upcast to the current schema."""
        spec = self.event_type(record.type)
        payload = self._load(spec, self.upcast(record.type, record.schema_version, record.data))
        kwargs = {name: getattr(payload, name) for name in spec.fields}
        kwargs.update(
            originator_id=originator_id,
            originator_version=originator_version,
            timestamp=getattr(payload, OCCURRED_AT),
        )
        if issubclass(spec.cls, CanInitAggregate):
            # Resolved now, from the current class: stored history never names a module.
            kwargs["originator_topic"] = get_topic(spec.aggregate)
        return spec.cls(**kwargs)

    @staticmethod
    def _load(spec: EventType, data: Any) -> msgspec.Struct:
        try:
            return msgspec.convert(data, spec.data_type)
        except msgspec.ValidationError as e:
            raise InvalidEventData(f"{spec.name} v{spec.schema_version}: {e}") from e

    def _register(self, aggregate: type[Aggregate]) -> None:
        stream_type = aggregate.__dict__.get("stream_type")
        if not isinstance(stream_type, str) or not stream_type:
            raise RegistryError(f"{aggregate.__qualname__} declares no stream_type")
        if stream_type in self._stream_types.values():
            raise RegistryError(f"stream type {stream_type!r} is declared twice")
        self._stream_types[aggregate] = stream_type
        # eventsourcing re-declares a base's event classes (Event, Created) on every
        # aggregate; those are abstract here unless the aggregate gives them a name.
        inherited = {attr for base in aggregate.__mro__[1:] for attr in vars(base)}
        for attr, value in vars(aggregate).items():
            if not (isinstance(value, type) and issubclass(value, CanMutateAggregate)):
                continue
            if attr in inherited and getattr(value, "event_type", None) is None:
                continue
            self._register_event(aggregate, value)

    def _register_event(self, aggregate: type[Aggregate], cls: type[DomainEvent]) -> None:
        where = f"{aggregate.__qualname__}.{cls.__name__}"
        # getattr, not __dict__: eventsourcing re-subclasses an event declared on a
        # foreign base, and a name inherited twice is caught as a duplicate below.
        name = getattr(cls, "event_type", None)
        if not isinstance(name, str) or not name:
            raise RegistryError(f"{where} declares no stable event_type")
        if name in self._by_name:
            raise RegistryError(f"event type {name!r} is declared twice")
        version = getattr(cls, "schema_version", 1)
        if not isinstance(version, int) or version < 1:
            raise RegistryError(f"{where}.schema_version must be an int >= 1")

        declared = {
            int(m[1]): (int(m[2]), getattr(cls, attr))
            for attr in dir(cls)
            if (m := _UPCASTER.fullmatch(attr))
        }
        expected = set(range(1, version))
        if set(declared) != expected or any(to != v + 1 for v, (to, _) in declared.items()):
            raise RegistryError(
                f"{where} is at schema v{version}: it needs exactly "
                f"{[f'upcast_v{v}_to_v{v + 1}' for v in sorted(expected)]}"
            )

        hints = typing.get_type_hints(cls)
        fields = [f for f in dataclasses.fields(cls) if f.name not in _ENVELOPE_FIELDS]
        if any(f.name == OCCURRED_AT for f in fields):
            raise RegistryError(f"{where} may not have a field named {OCCURRED_AT!r}")
        data_type = msgspec.defstruct(
            f"{name}Data",
            [*(_struct_field(f, hints[f.name]) for f in fields), (OCCURRED_AT, datetime)],
            kw_only=True,
            frozen=True,
            forbid_unknown_fields=True,
        )
        spec = EventType(
            name=name,
            cls=cls,
            aggregate=aggregate,
            schema_version=version,
            data_type=data_type,
            fields=tuple(f.name for f in fields),
        )
        self._by_name[name] = self._by_cls[cls] = spec
        for from_version, (_, upcaster) in declared.items():
            self._upcasters[name, from_version] = upcaster


def _struct_field(field: dataclasses.Field[Any], hint: Any) -> tuple[Any, ...]:
    if field.default is not dataclasses.MISSING:
        return (field.name, hint, field.default)
    if field.default_factory is not dataclasses.MISSING:
        return (field.name, hint, msgspec.field(default_factory=field.default_factory))
    return (field.name, hint)


@cache
def default_registry() -> Registry:
    """The registry of every aggregate in the domain (immutable, so shared)."""
    return Registry(*AGGREGATES)
