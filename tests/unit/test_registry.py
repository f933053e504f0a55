"""The registry: stable names, JSON round trips, upcasting, and refusing bad declarations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any, ClassVar
from uuid import UUID

import msgspec
import pytest
from eventsourcing.domain import Aggregate

from domain.project import Project
from domain.registry import (
    EventRecord,
    InvalidEventData,
    Registry,
    RegistryError,
    UnknownEventType,
    UnknownSchemaVersion,
    default_registry,
)

ID = UUID("0195f1d0-0000-7000-8000-000000000002")
T0 = datetime(2025, 3, 1, 11, 30, 0, 654321, tzinfo=timezone(timedelta(hours=2)))
T1 = datetime(2025, 3, 2, tzinfo=UTC)


def replay(registry: Registry, records: list[EventRecord]) -> Any:
    aggregate = None
    for version, record in enumerate(records, start=1):
        event = registry.decode(record, originator_id=ID, originator_version=version)
        aggregate = event.mutate(aggregate)
    return aggregate


def through_json(record: EventRecord) -> EventRecord:
    return msgspec.json.decode(msgspec.json.encode(record), type=EventRecord)


def test_the_domain_registry_knows_every_stream_type_and_event_name() -> None:
    registry = default_registry()
    assert registry.stream_types() == {
        "project",
        "pipeline",
        "run",
        "api_key",
        "webhook_source",
        "webhook_delivery",
        "runner",
        "data_subject",
        "projection",
        "subscription",
        "commit_status",
        "system_notice",
        "environment",
        "secret",
        "concurrency_group",
        "schedule_skip",
        "notification_rule",
        "approver_group",
    }
    assert registry.stream_type(Project) == "project"
    assert registry.event_type("ProjectCreated").cls is Project.Created
    assert registry.event_type(Project.Renamed).name == "ProjectRenamed"
    assert registry.event_type("ProjectArchived").schema_version == 1


def test_events_round_trip_through_json_and_replay_to_the_same_state() -> None:
    registry = default_registry()
    project = Project.create(id=ID, name="Web", slug="web", description="Shop", at=T0)
    project.rename("Web shop", at=T1)
    project.archive(at=T1)
    events = project.collect_events()

    records = [through_json(registry.encode(e)) for e in events]

    assert [r.type for r in records] == ["ProjectCreated", "ProjectRenamed", "ProjectArchived"]
    assert records[0] == EventRecord(
        type="ProjectCreated",
        schema_version=2,
        data={
            "name": "Web",
            "slug": "web",
            "description": "Shop",
            "occurred_at": "2025-03-01T11:30:00.654321+02:00",
        },
    )
    decoded = [
        registry.decode(r, originator_id=ID, originator_version=n)
        for n, r in enumerate(records, start=1)
    ]
    assert decoded == events
    assert replay(registry, records) == project


def test_stored_data_names_no_python_class_or_module() -> None:
    event = Project.create(id=ID, name="Web", slug="web", at=T0).collect_events()[0]
    encoded = msgspec.json.encode(default_registry().encode(event))
    assert b"domain" not in encoded
    assert b"Project." not in encoded


def test_a_v1_project_created_is_read_as_v2_with_an_empty_description() -> None:
    registry = default_registry()
    v1 = EventRecord(
        type="ProjectCreated",
        schema_version=1,
        data={"name": "Web", "slug": "web", "occurred_at": "2024-01-01T00:00:00Z"},
    )

    assert registry.upcast("ProjectCreated", 1, v1.data) == {**v1.data, "description": ""}
    project = replay(registry, [v1])
    assert (project.name, project.description) == ("Web", "")
    assert project.created_on == datetime(2024, 1, 1, tzinfo=UTC)
    assert "description" not in v1.data, "upcasting must not change the stored record"


def test_reading_an_unknown_name_or_version_or_bad_data_fails_clearly() -> None:
    registry = default_registry()
    with pytest.raises(UnknownEventType):
        registry.decode(
            EventRecord(type="ProjectDeleted", schema_version=1, data={}),
            originator_id=ID,
            originator_version=2,
        )
    with pytest.raises(UnknownSchemaVersion):
        registry.upcast("ProjectRenamed", 2, {"name": "x", "occurred_at": "2024-01-01T00:00:00Z"})
    with pytest.raises(InvalidEventData, match="slug"):
        registry.decode(
            EventRecord(
                type="ProjectCreated",
                schema_version=2,
                data={"name": "Web", "description": "", "occurred_at": "2024-01-01T00:00:00Z"},
            ),
            originator_id=ID,
            originator_version=1,
        )


# Two declarations of one history: the Python names differ, the stable names do not.
class Widget(Aggregate):
    stream_type = "widget"

    class Event(Aggregate.Event):
        pass

    class Made(Event, Aggregate.Created):
        event_type: ClassVar[str] = "WidgetMade"
        colour: str

    def __init__(self, colour: str) -> None:
        self.colour = colour


class Gizmo(Aggregate):
    stream_type = "widget"

    class Event(Aggregate.Event):
        pass

    class Built(Event, Aggregate.Created):
        event_type: ClassVar[str] = "WidgetMade"
        colour: str

    def __init__(self, colour: str) -> None:
        self.colour = colour


def test_renaming_a_class_orphans_no_history() -> None:
    widget = Widget._create(Widget.Made, id=ID, timestamp=T0, colour="red")
    record = through_json(Registry(Widget).encode(widget.collect_events()[0]))

    renamed = replay(Registry(Gizmo), [record])

    assert isinstance(renamed, Gizmo)
    assert (renamed.id, renamed.colour, renamed.created_on) == (ID, "red", T0)


def test_an_unregistered_event_cannot_be_encoded() -> None:
    widget = Widget._create(Widget.Made, id=ID, timestamp=T0, colour="red")
    with pytest.raises(UnknownEventType):
        default_registry().encode(widget.collect_events()[0])


def test_bad_declarations_are_refused_when_the_registry_is_built() -> None:
    class Nameless(Aggregate):
        stream_type = "nameless"

        class Happened(Aggregate.Event):
            pass

    class NoUpcaster(Aggregate):
        stream_type = "no-upcaster"

        class Happened(Aggregate.Event):
            event_type: ClassVar[str] = "Happened"
            schema_version: ClassVar[int] = 2

    class NoStreamType(Aggregate):
        pass

    with pytest.raises(RegistryError, match="no stable event_type"):
        Registry(Nameless)
    with pytest.raises(RegistryError, match="upcast_v1_to_v2"):
        Registry(NoUpcaster)
    with pytest.raises(RegistryError, match="no stream_type"):
        Registry(NoStreamType)
    with pytest.raises(RegistryError, match="declared twice"):
        Registry(Widget, Gizmo)
