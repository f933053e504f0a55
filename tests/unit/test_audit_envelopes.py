"""Audit envelopes: data passed through as stored, upcast when older, never hidden when unknown."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

import msgspec
from eventsourcing.domain import Aggregate

from adapters.audit.envelopes import AuditEvent, DeliveryRef, audit_event, upcast_data
from domain.registry import Registry


class Gadget(Aggregate):
    """A test-only aggregate whose event is at schema v3."""

    stream_type = "gadget"

    class Made(Aggregate.Created):
        event_type: ClassVar[str] = "GadgetMade"
        schema_version: ClassVar[int] = 3
        label: str
        size_mm: int

        @staticmethod
        def upcast_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
            return {k: v for k, v in data.items() if k != "name"} | {"label": data["name"]}

        @staticmethod
        def upcast_v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
            kept = {k: v for k, v in data.items() if k != "size_cm"}
            return kept | {"size_mm": data["size_cm"] * 10}

    def __init__(self, label: str, size_mm: int) -> None:
        self.label = label
        self.size_mm = size_mm


REGISTRY = Registry(Gadget)
AT = "2026-03-01T12:00:00Z"


def test_current_data_is_passed_through_byte_for_byte() -> None:
    stored = '{"label":"x","occurred_at":"2026-03-01T12:00:00Z","size_mm":5}'

    version, data = upcast_data(REGISTRY, "GadgetMade", 3, stored)

    assert (version, bytes(data)) == (3, stored.encode())


def test_older_data_is_upcast_step_by_step_to_the_current_version() -> None:
    stored = json.dumps({"name": "x", "size_cm": 4, "occurred_at": AT})

    version, data = upcast_data(REGISTRY, "GadgetMade", 1, stored)

    assert version == 3
    assert json.loads(bytes(data)) == {"label": "x", "size_mm": 40, "occurred_at": AT}


def test_what_the_registry_cannot_read_is_shown_as_stored() -> None:
    stored = '{"anything":true}'

    assert upcast_data(REGISTRY, "NeverDeclared", 2, stored) == (2, msgspec.Raw(stored))
    assert upcast_data(REGISTRY, "GadgetMade", 9, stored) == (9, msgspec.Raw(stored))


def test_an_audit_event_tells_its_stored_version_and_the_delivery_behind_it() -> None:
    cause = uuid.uuid4()
    delivery = DeliveryRef(
        stream_id="s", event_id=cause, source_id=None, delivery_id="d-1", event="push"
    )
    row = {
        "position": 7,
        "event_id": uuid.uuid4(),
        "stream_id": "g-1",
        "stream_type": "gadget",
        "version": 1,
        "type": "GadgetMade",
        "schema_version": 2,
        "recorded_at": datetime(2026, 3, 1, tzinfo=UTC),
        "data": json.dumps({"label": "x", "size_cm": 1, "occurred_at": AT}),
        "metadata": json.dumps({"actor": "bob", "causation_id": str(cause)}),
        "hash": bytes(range(32)),
    }

    event = audit_event(row, {cause: delivery}, REGISTRY)
    plain = msgspec.json.decode(msgspec.json.encode(event))

    assert isinstance(event, AuditEvent)
    assert (plain["schema_version"], plain["stored_schema_version"]) == (3, 2)
    assert plain["data"] == {"label": "x", "size_mm": 10, "occurred_at": AT}
    assert plain["hash"] == bytes(range(32)).hex()
    assert plain["caused_by_delivery"]["delivery_id"] == "d-1"
    assert (
        audit_event(
            {**row, "metadata": '{"causation_id":"ticket-1"}'}, {}, REGISTRY
        ).caused_by_delivery
        is None
    )
