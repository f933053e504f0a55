"""Sampling: a sampled request keeps all its spans; an unsampled one makes no span objects at all.

Real OpenTelemetry SDK: the process's tracer provider (parent-based sampling, as configured in
production) with an in-memory exporter behind a SimpleSpanProcessor, and a processor counting
every span the SDK starts (it is called for recording spans only).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from adapters.telemetry.http import request_telemetry
from adapters.telemetry.observer import TelemetryObserver
from adapters.telemetry.server_span import server_span
from adapters.telemetry.tracing import (
    context_from,
    current_traceparent,
    span,
    would_record,
)
from commands.context import CommandContext, Principal
from tests.unit.installed_tracing import installed

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SAMPLED = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
UNSAMPLED = f"00-{TRACE_ID}-00f067aa0ba902b7-00"


class StartCounter(SpanProcessor):
    def __init__(self) -> None:
        self.started = 0

    def on_start(self, span: Span, parent_context: object = None) -> None:
        self.started += 1


class Tracing:
    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.counter = StartCounter()


@pytest.fixture(scope="module")
def tracing() -> Iterator[Tracing]:
    # For this module only: OpenTelemetry sets a process's provider once, and one left behind
    # would make every later test's spans record (and change the traceparents they carry).
    with installed(TracerProvider()) as provider:
        found = Tracing()
        provider.add_span_processor(SimpleSpanProcessor(found.exporter))
        provider.add_span_processor(found.counter)
        yield found


@pytest.fixture
def fresh(tracing: Tracing) -> Tracing:
    tracing.exporter.clear()
    tracing.counter.started = 0
    return tracing


class ReportStatus:
    pass


def request(traceparent: str | None) -> tuple[int, str | None]:
    """One request through the request middleware, a command and an append, as in the API:
    the answer's status, and the traceparent the command's events would carry."""
    carried: list[str | None] = []
    caller = Principal(id="k", name="tester", project_id=None, scopes=frozenset({"admin"}))

    async def route(scope: dict, receive: object, send: object) -> None:
        context = CommandContext(
            principal=caller,
            at=datetime.now(UTC),
            correlation_id="c-1",
            traceparent=current_traceparent(),
        )
        with (
            TelemetryObserver().observe(ReportStatus(), context) as observed,
            span("event_store.append", attributes={"flowledger.events": 1}),
        ):
            carried.append(observed.traceparent)
        await send({"type": "http.response.start", "status": 202, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    async def receive() -> dict:
        return {"type": "http.request", "body": b""}

    headers = [] if traceparent is None else [(b"traceparent", traceparent.encode())]
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/pipeline-runs/x/status",
        "path_template": "/api/v1/pipeline-runs/{run_id}/status",
        "headers": headers,
    }
    app = request_telemetry(metrics=True, tracing=True)(route)  # type: ignore[arg-type]
    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    return sent[0]["status"], carried[0]


def test_a_sampled_request_records_its_command_on_the_server_span_and_its_append_below(fresh):
    status, carried = request(SAMPLED)

    assert status == 202
    spans = {s.name: s for s in fresh.exporter.get_finished_spans()}
    assert set(spans) == {"POST /api/v1/pipeline-runs/{run_id}/status", "event_store.append"}
    server = spans["POST /api/v1/pipeline-runs/{run_id}/status"]
    append = spans["event_store.append"]
    assert {format(s.context.trace_id, "032x") for s in spans.values()} == {TRACE_ID}
    assert append.parent.span_id == server.context.span_id
    assert server.attributes["http.response.status_code"] == 202
    assert server.attributes["http.route"] == "/api/v1/pipeline-runs/{run_id}/status"
    assert server.attributes["flowledger.command"] == "ReportStatus"
    assert server.attributes["flowledger.correlation_id"] == "c-1"
    assert append.attributes["flowledger.events"] == 1
    # The events name the request's span, so the relay and the runner continue this trace.
    assert carried == f"00-{TRACE_ID}-{server.context.span_id:016x}-01"


def test_a_second_command_of_one_request_gets_a_span_of_its_own(fresh):
    caller = Principal(id="k", name="tester", project_id=None, scopes=frozenset({"admin"}))
    context = CommandContext(principal=caller, at=datetime.now(UTC), correlation_id="c-2")
    observer = TelemetryObserver()
    with server_span("POST /x", context_from(SAMPLED)) as server:
        with observer.observe(ReportStatus(), context) as first:
            pass
        with observer.observe(ReportStatus(), context) as second:
            pass

    (command,) = [s for s in fresh.exporter.get_finished_spans() if s.name.startswith("command")]
    assert command.name == "command ReportStatus"
    assert command.parent.span_id == server.get_span_context().span_id
    assert first.traceparent == f"00-{TRACE_ID}-{server.get_span_context().span_id:016x}-01"
    assert second.traceparent == f"00-{TRACE_ID}-{command.context.span_id:016x}-01"


def test_a_command_under_other_work_gets_a_span_of_its_own(fresh):
    caller = Principal(id="k", name="tester", project_id=None, scopes=frozenset({"admin"}))
    context = CommandContext(principal=caller, at=datetime.now(UTC), correlation_id="c-3")
    with (
        server_span("POST /x", context_from(SAMPLED)),
        span("intake delivery") as delivery,
        TelemetryObserver().observe(ReportStatus(), context),
    ):
        pass

    (command,) = [s for s in fresh.exporter.get_finished_spans() if s.name.startswith("command")]
    assert command.parent.span_id == delivery.get_span_context().span_id
    assert command.attributes["flowledger.command"] == "ReportStatus"


def test_no_span_could_record_inside_an_unsampled_trace(fresh):
    assert would_record()
    with span("relay publish", parent=UNSAMPLED):
        assert not would_record()
    with span("relay publish", parent=SAMPLED):
        assert would_record()


def test_an_unsampled_request_starts_no_span_and_still_carries_its_trace(fresh):
    status, carried = request(UNSAMPLED)

    assert status == 202
    assert fresh.counter.started == 0
    assert fresh.exporter.get_finished_spans() == ()
    # The caller's decision travels on with the events: downstream does not sample it either.
    assert carried == UNSAMPLED


def test_work_continued_from_an_unsampled_event_records_nothing(fresh):
    with span("relay publish", parent=UNSAMPLED) as current:
        assert not current.is_recording()
        inner = current_traceparent()
        with span("child"), span("continued", continues=UNSAMPLED):
            assert current_traceparent() == UNSAMPLED

    assert inner == UNSAMPLED
    assert fresh.counter.started == 0
    assert current_traceparent() is None


def test_a_new_trace_is_sampled_at_the_root_and_its_children_follow(fresh):
    status, carried = request(None)

    assert status == 202
    spans = fresh.exporter.get_finished_spans()
    assert len(spans) == fresh.counter.started == 2  # the request's (with its command), the append
    assert carried is not None and int(carried[-2:], 16) & trace.TraceFlags.SAMPLED
    assert len({s.context.trace_id for s in spans}) == 1
