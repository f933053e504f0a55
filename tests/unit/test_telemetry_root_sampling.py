"""New traces under the provider the API configures: each request is sampled by its trace id's
ratio rule (as the SDK's TraceIdRatioBased decides it), a sampled one records its spans under
that trace id, and an unsampled one still carries a valid trace but makes no span objects.

Real SDK provider from `sampled_provider` (what `configure_tracing` installs), an in-memory
exporter behind a SimpleSpanProcessor and a processor counting the spans the SDK starts.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.sampling import TraceIdRatioBased

from adapters.telemetry.server_span import server_span, unsampled_context
from adapters.telemetry.tracing import sampled_provider
from tests.unit.installed_tracing import installed
from tests.unit.test_telemetry_sampling import Tracing, request

RATIO = 0.5


@pytest.fixture(scope="module")
def tracing() -> Iterator[Tracing]:
    with installed(sampled_provider("api", RATIO)) as provider:
        found = Tracing()
        provider.add_span_processor(SimpleSpanProcessor(found.exporter))
        provider.add_span_processor(found.counter)
        yield found


def test_each_new_trace_is_sampled_by_the_ratio_rule_on_its_own_id(tracing):
    rule = TraceIdRatioBased(RATIO)
    sampled = 0
    for _ in range(200):
        tracing.exporter.clear()
        tracing.counter.started = 0
        status, carried = request(None)
        assert status == 202 and carried is not None
        trace_id = int(carried[3:35], 16)
        flagged = bool(int(carried[-2:], 16) & trace.TraceFlags.SAMPLED)
        assert flagged == rule.should_sample(None, trace_id, "x").decision.is_sampled()
        spans = tracing.exporter.get_finished_spans()
        if flagged:
            sampled += 1
            assert len(spans) == tracing.counter.started == 2  # the request's, the append's
            assert {s.context.trace_id for s in spans} == {trace_id}
            (server,) = [s for s in spans if s.parent is None]
            assert server.kind is trace.SpanKind.SERVER
            assert server.attributes["http.response.status_code"] == 202
        else:
            assert tracing.counter.started == 0 and spans == ()
    assert 50 < sampled < 150  # about half, as the ratio says


def test_an_unsampled_root_is_current_inside_and_gone_after(tracing):
    while True:
        tracing.counter.started = 0  # what this try's span started, not the sampled ones before
        with server_span("GET /x", None) as current:
            inside = trace.get_current_span()
            if not current.get_span_context().trace_flags.sampled:
                break
    assert inside is current and current.get_span_context().is_valid
    assert not current.is_recording() and tracing.counter.started == 0
    assert not trace.get_current_span().get_span_context().is_valid


def test_other_roots_draw_their_own_trace_ids(tracing):
    """The id handed to the SDK for a sampled request is used once, not by the next trace."""
    while True:
        with server_span("GET /x", None) as current:
            if current.get_span_context().trace_flags.sampled:
                break
    tracer = trace.get_tracer_provider().get_tracer("t")
    with tracer.start_as_current_span("relay publish") as later:
        pass
    assert later.get_span_context().trace_id != current.get_span_context().trace_id


def test_inside_an_active_span_a_request_span_is_its_child(tracing):
    outer_context = trace.SpanContext(7, 8, is_remote=True, trace_flags=trace.TraceFlags(1))
    outer = trace.NonRecordingSpan(outer_context)
    for _ in range(20):  # a new trace would be drawn unsampled about half the time
        with trace.use_span(outer), server_span("GET /x", None) as current:
            assert current.get_span_context().trace_id == 7
            assert current.is_recording()  # the parent was sampled: so is its child


@pytest.mark.parametrize(
    ("trace_id", "span_id"), [(1, 1), (2**128 - 1, 2**64 - 1), (0x4BF92F3577B34DA6, 0xA3CE929D)]
)
def test_an_unsampled_root_context_is_the_one_span_context_makes(trace_id, span_id):
    made = unsampled_context(trace_id, span_id)
    expected = trace.SpanContext(
        trace_id, span_id, is_remote=False, trace_flags=trace.TraceFlags(trace.TraceFlags.DEFAULT)
    )
    assert made == expected
    assert type(made) is trace.SpanContext
    assert made.is_valid and not made.trace_flags.sampled and not made.is_remote
    assert made.trace_state == expected.trace_state


def test_the_provider_hashes_its_resource_as_a_plain_resource_would():
    provider = sampled_provider("api", RATIO)
    resource = provider.resource
    plain = Resource(resource.attributes, resource.schema_url)
    assert hash(resource) == hash(plain) and resource == plain
    assert resource.attributes["service.name"] == "api"
    provider.shutdown()
