"""A request's root span, decided by this process's sampler before the SDK is asked."""

from __future__ import annotations

from contextvars import Token
from random import getrandbits
from types import TracebackType

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace.span import DEFAULT_TRACE_STATE

from adapters.telemetry.made_current import made_current
from adapters.telemetry.request_span import offer_request_span, withdraw_request_span
from adapters.telemetry.tracing import own_roots, tracer

_TRACE_ID_LOW_BITS = (1 << 64) - 1  # what TraceIdRatioBased compares with its bound
_UNSAMPLED = trace.TraceFlags(trace.TraceFlags.DEFAULT)


class server_span:  # lower case, as contextlib names its context manager classes
    """A request's root span: a caller's unsampled trace is made current without a span object;
    otherwise the sampler decides (for a new trace, a non-recording span when it says no).

    A class rather than a generator: nine requests in ten take the unsampled path, which is
    then an attach and a detach (a generator context manager costs as much again).
    """

    __slots__ = ("_name", "_offered", "_parent", "_recorded", "_token")

    def __init__(self, name: str, parent: otel_context.Context | None) -> None:
        self._name, self._parent = name, parent
        self._token: object | None = None
        self._recorded: made_current | None = None
        self._offered: Token[trace.Span | None] | None = None

    def __enter__(self) -> trace.Span:
        parent = self._parent
        if parent is not None:
            continued = trace.get_current_span(parent)
            if not continued.get_span_context().trace_flags.sampled:
                self._token = otel_context.attach(parent)
                return continued
        else:
            unsampled = _unsampled_new_trace(self._name)
            if unsampled is not None:
                self._token = otel_context.attach(trace.set_span_in_context(unsampled))
                return unsampled
        self._recorded = made_current(_started(self._name, parent))
        current = self._recorded.__enter__()
        self._offered = offer_request_span(current)
        return current

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        if self._recorded is not None:
            withdraw_request_span(self._offered)  # type: ignore[arg-type]
            return self._recorded.__exit__(kind, error, traceback)
        otel_context.detach(self._token)  # type: ignore[arg-type]
        return None


def _unsampled_new_trace(name: str) -> trace.NonRecordingSpan | None:
    """A new trace under this process's own sampler, its rule applied here to an id drawn here:
    when it says no (most requests), the context the SDK would make, without the SDK (~20 us:
    sampler, span wrappers). Sampled, its id is handed to the SDK, which starts the span."""
    roots = own_roots()
    if roots is None or trace.get_current_span().get_span_context().is_valid:
        return None
    trace_id = _drawn(128)  # as RandomIdGenerator draws, without two frames of it
    if trace_id & _TRACE_ID_LOW_BITS < roots.bound:
        roots.ids.preset(trace_id)
        return None
    return trace.NonRecordingSpan(unsampled_context(trace_id, _drawn(64)))


def _drawn(bits: int) -> int:
    """Random non-zero bits (zero is the invalid id), as the SDK's id generator draws them."""
    drawn = getrandbits(bits)
    while not drawn:
        drawn = getrandbits(bits)
    return drawn


def unsampled_context(trace_id: int, span_id: int) -> trace.SpanContext:
    """The SpanContext that `SpanContext(trace_id, span_id, is_remote=False, trace_flags=
    not sampled)` makes, without its argument handling (a fifth of the unsampled path): the ids
    are drawn here, non-zero and in range, so the context is valid."""
    fields = (trace_id, span_id, False, _UNSAMPLED, DEFAULT_TRACE_STATE, True)
    return tuple.__new__(trace.SpanContext, fields)


def _started(name: str, parent: otel_context.Context | None) -> trace.Span:
    """The SDK's server span (with a preset trace id, if one was drawn), there for the command."""
    try:
        return tracer().start_span(name, context=parent, kind=trace.SpanKind.SERVER)
    finally:
        if parent is None and (roots := own_roots()) is not None:
            roots.ids.preset(None)
