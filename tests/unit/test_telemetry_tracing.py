"""Trace context in and out of events and commands: spans continue the trace an event carries."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from adapters.telemetry.observer import TelemetryObserver
from adapters.telemetry.tracing import context_from, current_traceparent, links_to, span
from commands.context import CommandContext, Principal
from domain.errors import DomainError
from tests.unit.installed_tracing import installed

FOREIGN = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


class Recorder(SpanProcessor):
    """Keeps the spans that end while a test listens; drops the rest of the session's."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] | None = None

    def on_end(self, span: ReadableSpan) -> None:
        if self.spans is not None:
            self.spans.append(span)

    @contextlib.contextmanager
    def listening(self) -> Iterator[list[ReadableSpan]]:
        self.spans = []
        try:
            yield self.spans
        finally:
            self.spans = None


@pytest.fixture(scope="module")
def recorder() -> Iterator[Recorder]:
    """A recording provider installed globally for this module only: OpenTelemetry lets a
    process set its provider once, so one left behind would make every later test's spans
    record (and change the traceparents they propagate)."""
    with installed(TracerProvider()) as provider:
        found = Recorder()
        provider.add_span_processor(found)
        yield found


def test_a_span_continues_the_trace_an_event_carries(recorder):
    with recorder.listening() as spans, span("relay publish", parent=FOREIGN):
        inside = current_traceparent()

    (published,) = spans
    assert format(published.context.trace_id, "032x") == FOREIGN.split("-")[1]
    assert format(published.parent.span_id, "016x") == FOREIGN.split("-")[2]
    assert inside is not None and inside.split("-")[1] == FOREIGN.split("-")[1]
    assert inside.split("-")[2] == format(published.context.span_id, "016x")


def test_inside_an_active_span_the_parent_is_ignored_unless_the_work_continues_it(recorder):
    with recorder.listening() as spans, span("batch"):
        with span("child", parent=FOREIGN):
            pass
        with span("continued", continues=FOREIGN):
            pass

    by_name = {s.name: s for s in spans}
    assert by_name["child"].parent.span_id == by_name["batch"].context.span_id
    assert format(by_name["continued"].context.trace_id, "032x") == FOREIGN.split("-")[1]


def test_a_batch_links_to_each_distinct_trace_of_its_events(recorder):
    other = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    links = links_to([FOREIGN, None, other, FOREIGN, "garbage"])
    assert [format(link.context.trace_id, "032x") for link in links] == [
        FOREIGN.split("-")[1],
        other.split("-")[1],
    ]
    (first,) = links_to([FOREIGN] * 3 + [other], limit=1)
    assert first.context == links[0].context


def test_a_batch_does_not_link_to_traces_nobody_sampled(recorder):
    unsampled = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
    later_version = "01-0af7651916cd43dd8448eb211c80319d-b7ad6b7169203331-03-extra"
    links = links_to([unsampled, FOREIGN, later_version])
    assert [format(link.context.trace_id, "032x") for link in links] == [
        FOREIGN.split("-")[1],
        later_version.split("-")[1],
    ]


def test_invalid_trace_context_is_no_parent():
    assert context_from(None) is None
    assert context_from("") is None
    assert context_from("00-zzzz-yyyy-01") is None


@pytest.mark.parametrize(
    "traceparent",
    [
        FOREIGN,
        FOREIGN[:-2] + "00",
        " \t" + FOREIGN + " ",
        FOREIGN + "-later",  # version 00 has no later fields
        "01" + FOREIGN[2:] + "-later",  # a later version may have them
        "ff" + FOREIGN[2:],
        "00-" + "0" * 32 + FOREIGN[35:],
        FOREIGN[:36] + "0" * 16 + FOREIGN[52:],
        FOREIGN.upper(),
        FOREIGN[:-1],
        "01" + FOREIGN[2:] + "-" + "x" * 600,
    ],
)
def test_trace_context_is_read_as_the_w3c_propagator_reads_it(traceparent):
    expected = trace.get_current_span(
        TraceContextTextMapPropagator().extract({"traceparent": traceparent})
    ).get_span_context()
    found = context_from(traceparent)
    if not expected.is_valid:
        assert found is None
    else:
        assert found is not None
        assert trace.get_current_span(found).get_span_context() == expected


def context(traceparent: str | None = None) -> CommandContext:
    caller = Principal(id="k", name="tester", project_id=None, scopes=frozenset({"admin"}))
    return CommandContext(
        principal=caller, at=datetime.now(UTC), correlation_id="c-1", traceparent=traceparent
    )


class TriggerSomething:
    pass


def test_a_command_gets_its_own_span_and_its_events_name_it(recorder):
    observer = TelemetryObserver()
    with (
        recorder.listening() as spans,
        observer.observe(TriggerSomething(), context(FOREIGN)) as observed,
    ):
        handed = observed.traceparent

    (command,) = spans
    assert command.name == "command TriggerSomething"
    assert format(command.context.trace_id, "032x") == FOREIGN.split("-")[1]
    assert handed is not None and handed.split("-")[2] == format(command.context.span_id, "016x")
    assert command.attributes["flowledger.correlation_id"] == "c-1"


def test_a_refused_command_is_marked_and_still_raises(recorder):
    observer = TelemetryObserver()
    with (
        recorder.listening() as spans,
        pytest.raises(DomainError),
        observer.observe(TriggerSomething(), context()),
    ):
        raise DomainError("no")

    (command,) = spans
    assert command.attributes["flowledger.rejected"] == "DomainError"


@pytest.mark.parametrize("flags", [0, 1, 3, 0xFF])
@pytest.mark.parametrize(("trace_id", "span_id"), [(1, 1), (2**128 - 1, 2**64 - 1), (0xABC, 0xDEF)])
def test_the_traceparent_carried_is_the_one_the_w3c_propagator_writes(trace_id, span_id, flags):
    context = trace.SpanContext(trace_id, span_id, False, trace.TraceFlags(flags))
    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(
        carrier, trace.set_span_in_context(trace.NonRecordingSpan(context))
    )

    assert current_traceparent(trace.NonRecordingSpan(context)) == carrier["traceparent"]


def test_an_error_inside_a_span_is_recorded_on_it_and_raised_after_it_ended(recorder):
    with recorder.listening() as spans, span("outer") as outer:
        with pytest.raises(RuntimeError, match="broken"), span("inner"):
            raise RuntimeError("broken")
        assert trace.get_current_span() is outer

    inner = next(s for s in spans if s.name == "inner")
    assert inner.end_time is not None
    assert inner.status.status_code is trace.StatusCode.ERROR
    assert inner.status.description == "RuntimeError: broken"
    assert [event.name for event in inner.events] == ["exception"]
    assert not trace.get_current_span().get_span_context().is_valid
