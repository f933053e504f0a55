"""The gateway's routing: subjects to routes, watches to routes, and the SQL's ownership rule."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from adapters.streaming.relay.docs import event_types
from adapters.streaming.relay.subjects import Owner, learn, subject
from domain.envelope import EventEnvelope, EventMetadata
from gateway.events import PROJECT_IN_DATA
from gateway.watch import EVERYTHING, Watch, owner_routes, subject_routes

PREFIX = "flowledger.events"


def envelope(type_: str, stream_id: str = "s1", stream_type: str = "run") -> EventEnvelope:
    return EventEnvelope(
        event_id=uuid.uuid4(),
        position=7,
        stream_id=stream_id,
        stream_type=stream_type,
        version=1,
        type=type_,
        schema_version=1,
        recorded_at=datetime(2026, 1, 1, tzinfo=UTC),
        data={"project_id": "p1", "pipeline_id": "pl1"},
        metadata=EventMetadata(),
        hash="00",
    )


def test_a_relayed_subject_routes_to_everything_its_project_its_pipeline_and_its_run() -> None:
    event = envelope("RunLogAppended", stream_id="r.1")
    routes = subject_routes(PREFIX, subject(PREFIX, event, Owner("p1", "pl1")))
    assert routes == (EVERYTHING, ("project", "p1"), ("pipeline", "pl1"), ("run", "r_1"))
    assert routes == owner_routes("run", "r.1", Owner("p1", "pl1"))


def test_events_outside_runs_have_no_run_route_and_strangers_none_at_all() -> None:
    pipeline = envelope("PipelineCreated", stream_id="pl1", stream_type="pipeline")
    found = subject_routes(PREFIX, subject(PREFIX, pipeline, Owner("p1", "pl1")))
    assert found == (EVERYTHING, ("project", "p1"), ("pipeline", "pl1"))
    assert subject_routes(PREFIX, "flowledger.events.too.short") is None
    assert subject_routes(PREFIX, "other.events.a.b.run.c.d") is None


def test_each_watch_listens_on_the_route_its_events_carry() -> None:
    routes = set(owner_routes("run", "r1", Owner("p1", "pl1")))
    watches = [
        Watch("run", "r1"),
        Watch("pipeline", "pl1"),
        Watch("project", "p1"),
        Watch("system", "p1"),
        Watch("system", None),
    ]
    assert all(w.route in routes for w in watches)
    assert Watch("run", "r2").route not in routes
    assert Watch("system", "p2").route not in routes


def test_the_sql_ownership_rule_names_the_event_types_learn_reads_an_owner_from() -> None:
    # The replay SQL hard-codes which first events name a project or pipeline; `learn` names
    # the relay's subjects. If they drift apart, replays and live events disagree.
    for type_ in sorted({*(spec.name for spec in event_types()), *PROJECT_IN_DATA}):
        owner = learn(envelope(type_, stream_id="own")) or Owner()
        if type_ == "ProjectCreated":
            assert owner == Owner("own")
        elif type_ == "PipelineCreated":
            assert owner == Owner("p1", "own")
        else:
            assert (owner.project_id == "p1") == (type_ in PROJECT_IN_DATA), type_
            assert (owner.pipeline_id == "pl1") == (type_ == "RunRequested"), type_
