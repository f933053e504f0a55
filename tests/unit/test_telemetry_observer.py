"""The command observer's counts and outcomes, and what it hands the handler when tracing is off
(every process's commands pass through it, traced or not)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from opentelemetry import context as otel_context
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.test.globals_test import reset_trace_globals
from opentelemetry.trace import StatusCode
from prometheus_client import REGISTRY

from adapters.telemetry.observer import TelemetryObserver
from adapters.telemetry.provider import install_tracer_provider
from adapters.telemetry.tracing import context_from, tracing_enabled
from commands.context import CommandContext, Principal
from commands.ports import VersionConflict
from domain.errors import DomainError
from tests.unit.installed_tracing import installed

EVENT_TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


class ObservedCommandOne:
    pass


def context(traceparent: str | None = None) -> CommandContext:
    caller = Principal(id="k", name="t", project_id=None, scopes=frozenset({"admin"}))
    return CommandContext(
        principal=caller, at=datetime.now(UTC), correlation_id="c-9", traceparent=traceparent
    )


def count(outcome: str) -> float:
    labels = {"command": "ObservedCommandOne", "outcome": outcome}
    return REGISTRY.get_sample_value("flowledger_commands_total", labels) or 0.0


def timed() -> float:
    labels = {"command": "ObservedCommandOne"}
    return REGISTRY.get_sample_value("flowledger_command_duration_seconds_count", labels) or 0.0


@pytest.fixture()
def untraced() -> Iterator[None]:
    reset_trace_globals()
    install_tracer_provider(None)
    assert not tracing_enabled()
    yield
    reset_trace_globals()


@pytest.fixture()
def spans() -> Iterator[InMemorySpanExporter]:
    with installed(TracerProvider()) as provider:
        exporter = InMemorySpanExporter()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        yield exporter


@pytest.mark.usefixtures("untraced")
def test_untraced_the_command_is_counted_and_timed_and_its_context_handed_as_is() -> None:
    before, before_timed = count("ok"), timed()
    given = context()
    with TelemetryObserver().observe(ObservedCommandOne(), given) as handed:
        assert handed is given
    assert count("ok") == before + 1
    assert timed() == before_timed + 1


@pytest.mark.usefixtures("untraced")
def test_untraced_an_active_trace_is_still_carried_into_the_events() -> None:
    # Work continued from an event makes its trace current even with tracing off.
    token = otel_context.attach(context_from(EVENT_TRACE))  # type: ignore[arg-type]
    try:
        with TelemetryObserver().observe(ObservedCommandOne(), context()) as handed:
            assert handed.traceparent == EVENT_TRACE
    finally:
        otel_context.detach(token)


@pytest.mark.usefixtures("untraced")
@pytest.mark.parametrize(
    ("error", "outcome"),
    [(DomainError("no"), "rejected"), (VersionConflict("moved"), "conflict")],
)
def test_each_outcome_is_counted_and_the_error_raised(error: Exception, outcome: str) -> None:
    before = count(outcome)
    with pytest.raises(type(error)), TelemetryObserver().observe(ObservedCommandOne(), context()):
        raise error
    assert count(outcome) == before + 1


def test_a_failed_command_marks_its_span_as_an_error(spans: InMemorySpanExporter) -> None:
    before = count("error")
    with (
        pytest.raises(RuntimeError),
        TelemetryObserver().observe(ObservedCommandOne(), context(EVENT_TRACE)),
    ):
        raise RuntimeError("broken")
    assert count("error") == before + 1
    (span,) = spans.get_finished_spans()
    recorded: ReadableSpan = span
    assert recorded.status.status_code is StatusCode.ERROR
    assert recorded.attributes is not None
    assert recorded.attributes["flowledger.command"] == "ObservedCommandOne"
    assert [event.name for event in recorded.events] == ["exception"]
