"""Given/When/Then for aggregates: given past events, when a command, then new events or an error.

Events are written as facts, `(stable name, data)`, with typed values (datetime, UUID):
the same shape the registry stores, so every spec also proves its events encode and replay.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar
from uuid import UUID

import msgspec
from eventsourcing.domain import Aggregate

from domain.registry import EventRecord, Registry, default_registry

A = TypeVar("A", bound=Aggregate)
E = TypeVar("E", bound=BaseException)
Fact = tuple[str, dict[str, Any]]


class Spec(Generic[A]):
    def __init__(self, aggregate: type[A], id: UUID, registry: Registry | None = None) -> None:
        self.aggregate_cls = aggregate
        self.id = id
        self.registry = registry or default_registry()
        self.state: A | None = None

    def given(self, *facts: Fact) -> Spec[A]:
        for version, (name, data) in enumerate(facts, start=1):
            spec = self.registry.event_type(name)
            record = EventRecord(type=name, schema_version=spec.schema_version, data=data)
            event = self.registry.decode(record, originator_id=self.id, originator_version=version)
            self.state = event.mutate(self.state)
        if self.state is not None and not isinstance(self.state, self.aggregate_cls):
            raise TypeError(f"given events built a {type(self.state).__name__}")
        return self

    def when(self, command: Callable[[A | None], A | None]) -> Outcome[A]:
        """Run the command on the given state; a command that creates returns the aggregate."""
        try:
            created = command(self.state)
        except Exception as error:
            if self.state is not None:
                assert self.state.pending_events == [], "a refused command decided events"
            return Outcome(self, None, error)
        aggregate = created if created is not None else self.state
        assert aggregate is not None, "the command returned no aggregate and none was given"
        return Outcome(self, aggregate, None)


class Outcome(Generic[A]):
    def __init__(self, spec: Spec[A], aggregate: A | None, error: Exception | None) -> None:
        self.spec = spec
        self.aggregate = aggregate
        self.error = error

    def then(self, *facts: Fact) -> A:
        """Assert exactly these new events were decided; return the aggregate for state checks."""
        if self.error is not None:
            raise AssertionError(f"expected events, got {self.error!r}") from self.error
        assert self.aggregate is not None
        assert [self._fact(e) for e in self.aggregate.pending_events] == list(facts)
        return self.aggregate

    def then_raises(self, error_type: type[E], **attrs: Any) -> E:
        assert self.error is not None, f"expected {error_type.__name__}, no error was raised"
        assert isinstance(self.error, error_type), f"expected {error_type.__name__}: {self.error!r}"
        assert {k: getattr(self.error, k) for k in attrs} == attrs
        return self.error

    def _fact(self, event: Any) -> Fact:
        registry = self.spec.registry
        record = registry.encode(event)
        payload = msgspec.convert(record.data, registry.event_type(record.type).data_type)
        return record.type, msgspec.structs.asdict(payload)
