"""OpenTelemetry tracing: the provider from settings, and W3C trace context in and out of events."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from adapters.telemetry.made_current import made_current
from adapters.telemetry.provider import (
    install_tracer_provider,
    installed_provider,
    tracer,
    tracing_enabled,
)

MAX_LINKS = 32

_propagator = TraceContextTextMapPropagator()
# version-trace_id-parent_id-flags; a later version may append fields, which we keep (bounded).
_TRACEPARENT = re.compile(
    r"(?!ff)[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}(-[!-~]{1,200})?"
)


def configure_tracing(
    service: str,
    *,
    exporter: str,
    sample_ratio: float,
    otlp_endpoint: str | None = None,
) -> TracerProvider | None:
    """Install the global tracer provider for this process; None when tracing is off.

    Sampling is decided once at the root (ParentBased): a trace continued from an event's
    traceparent keeps the decision its first process took, so it is whole or absent.
    """
    if exporter == "none":
        return None
    provider = sampled_provider(service, sample_ratio)
    chosen = _exporter(exporter, otlp_endpoint)
    if chosen is not None:
        # Console output is for a person watching: written at once, not batched.
        processor = SimpleSpanProcessor if exporter == "console" else BatchSpanProcessor
        provider.add_span_processor(processor(chosen))
    install_tracer_provider(provider)
    return provider


def sampled_provider(service: str, sample_ratio: float) -> TracerProvider:
    """A tracer provider with this process's sampling and ids, no processor, not installed."""
    global _roots
    ratio = TraceIdRatioBased(sample_ratio)
    ids = _PresetTraceIds()
    resource = Resource.create({"service.name": service, "service.namespace": "flowledger"})
    provider = TracerProvider(
        resource=_HashedOnce(resource.attributes, resource.schema_url),
        sampler=ParentBased(ratio),
        id_generator=ids,
    )
    _roots = _Roots(provider, ratio.bound, ids)
    return provider


class _HashedOnce(Resource):
    """A resource that hashes itself once. The OTLP encoder groups every span it exports by
    resource, and Resource.__hash__ renders the attributes with json.dumps on each call: 16%
    of the encoding. A resource's attributes cannot change, so neither can its hash."""

    def __init__(self, attributes: Mapping[str, Any], schema_url: str | None = None) -> None:
        super().__init__(attributes, schema_url)
        self._hash = super().__hash__()

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return super().__eq__(other)


class _PresetTraceIds(RandomIdGenerator):
    """Random ids, except a new trace's id that `server_span` drew (and sampled) itself."""

    def __init__(self) -> None:
        self._preset = threading.local()

    def preset(self, trace_id: int | None) -> None:
        self._preset.trace_id = trace_id

    def generate_trace_id(self) -> int:
        preset = getattr(self._preset, "trace_id", None)
        if preset is None:
            return super().generate_trace_id()
        self._preset.trace_id = None
        return preset


class _Roots:
    """The provider configure_tracing installed, its ratio sampler's bound and its ids: what
    `server_span` needs to decide a new trace the way the sampler would, before the SDK."""

    def __init__(self, provider: TracerProvider, bound: int, ids: _PresetTraceIds) -> None:
        self.provider, self.bound, self.ids = provider, bound, ids


_roots: _Roots | None = None


def own_roots() -> _Roots | None:
    """What `sampled_provider` made, while its provider is the one installed (else None)."""
    roots = _roots
    return roots if roots is not None and roots.provider is installed_provider() else None


def _exporter(name: str, otlp_endpoint: str | None) -> SpanExporter | None:
    if name == "console":
        # One span per line, as JSON: readable by a person and by a log collector alike.
        return ConsoleSpanExporter(formatter=lambda span: span.to_json(indent=None) + "\n")
    if name == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        # Without an endpoint the exporter reads OTEL_EXPORTER_OTLP_* itself.
        return OTLPSpanExporter(endpoint=otlp_endpoint) if otlp_endpoint else OTLPSpanExporter()
    return None


def current_traceparent(active: trace.Span | None = None) -> str | None:
    """The W3C traceparent of the active span (`active`, when the caller has it at hand), or
    None when there is none."""
    context = (active or trace.get_current_span()).get_span_context()
    if not context.is_valid:
        return None
    # What TraceContextTextMapPropagator.inject writes, without its carrier and setter calls;
    # bytes.hex() of the ids is half the instructions of a padded hex format (~8,600) of them.
    trace_id, span_id = context.trace_id.to_bytes(16).hex(), context.span_id.to_bytes(8).hex()
    return f"00-{trace_id}-{span_id}-{_FLAGS_HEX[context.trace_flags]}"


_FLAGS_HEX = [f"{flags:02x}" for flags in range(256)]


def unsampled_active(active: trace.Span | None = None) -> trace.Span | None:
    """The active span (`active`, when the caller has it at hand) when it belongs to a trace
    not sampled at its root, else None: work under it records nothing (the sampler is
    parent-based), and it already carries the context to propagate, so a caller can skip
    making a span altogether."""
    current = active or trace.get_current_span()
    context = current.get_span_context()
    return current if context.is_valid and not context.trace_flags.sampled else None


def would_record() -> bool:
    """Whether `span` here could record: tracing is on and no unsampled trace is active."""
    return tracing_enabled() and unsampled_active() is None


def valid_traceparent(traceparent: str | None) -> str | None:
    """`traceparent` if it is W3C-shaped (so it is safe to keep in an event), else None."""
    if traceparent is None or not _TRACEPARENT.fullmatch(traceparent):
        return None
    return traceparent


def context_from(traceparent: str | None) -> otel_context.Context | None:
    """An OpenTelemetry context whose parent is `traceparent`; None if it is absent or invalid."""
    if not traceparent:
        return None
    extracted = _propagator.extract({"traceparent": traceparent})
    if not trace.get_current_span(extracted).get_span_context().is_valid:
        return None
    return extracted


class span:  # lower case, as contextlib names its context manager classes
    """A span, child of the active one, or of `parent` (a traceparent) when nothing is active.

    A process picking up work from an event or a message (relay, gateway, runner) passes the
    event's traceparent as `parent`, which makes its span part of the original trace. Work done
    for one event inside a batch's span (a process manager) passes it as `continues`: the span
    then joins the event's trace rather than the batch's. A class rather than a generator (see
    `made_current`).
    """

    __slots__ = ("_asked", "_made", "_token")

    def __init__(
        self,
        name: str,
        *,
        parent: str | None = None,
        continues: str | None = None,
        kind: trace.SpanKind = trace.SpanKind.INTERNAL,
        attributes: Mapping[str, Any] | None = None,
        links: Sequence[trace.Link] = (),
    ) -> None:
        self._asked = (name, parent, continues, kind, attributes, links)
        self._token: object | None = None
        self._made: made_current | None = None

    def __enter__(self) -> trace.Span:
        name, parent, continues, kind, attributes, links = self._asked
        if continues is None and parent is None and not tracing_enabled():
            # Tracing is off and there is no trace to carry on: the no-op tracer would make the
            # same invalid span, for ~16 us of context work on every append and command.
            return trace.INVALID_SPAN
        if continues is not None:
            ctx = context_from(continues)
        else:
            active = trace.get_current_span()
            unsampled = unsampled_active(active)
            if unsampled is not None:
                return unsampled
            ctx = None if active.get_span_context().is_valid else context_from(parent)
        if ctx is not None:
            parent_span = trace.get_current_span(ctx)
            if not parent_span.get_span_context().trace_flags.sampled:
                # An unsampled trace continued from an event: make its context current, no span.
                self._token = otel_context.attach(ctx)
                return parent_span
        started = tracer().start_span(name, ctx, kind, attributes, links)
        self._made = made_current(started)
        return self._made.__enter__()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._made is not None:
            self._made.__exit__(kind, error, traceback)
        elif self._token is not None:
            otel_context.detach(self._token)  # type: ignore[arg-type]


def links_to(traceparents: Iterable[str | None], limit: int = MAX_LINKS) -> list[trace.Link]:
    """Links to the sampled traces of a batch's events: a batch serves many traces, parented by
    none. A trace not sampled at its root has no span anywhere, so a link to it would lead
    nowhere; its traceparent is not even parsed (~10 us each, 9 events in 10 at a 10% ratio)."""
    links: list[trace.Link] = []
    if not tracing_enabled():
        return links
    seen: set[str] = set()
    for traceparent in traceparents:
        if not _marked_sampled(traceparent) or traceparent in seen or len(links) == limit:
            continue
        seen.add(traceparent)
        ctx = context_from(traceparent)
        if ctx is not None:
            links.append(trace.Link(trace.get_current_span(ctx).get_span_context()))
    return links


def _marked_sampled(traceparent: str | None) -> bool:
    """Whether a traceparent's flags field (after version, trace id and span id) says sampled."""
    flags = traceparent[53:55] if traceparent else ""
    return len(flags) == 2 and flags in _SAMPLED_FLAGS


_SAMPLED_FLAGS = frozenset(f"{flags:02x}" for flags in range(256) if flags & 1)
