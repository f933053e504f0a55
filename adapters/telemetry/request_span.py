"""A request's trace: its recording server span, offered to the command it runs so that both
record on one span; or, for a new trace not sampled at its root, only its ids (no OpenTelemetry
context objects per request: nine requests in ten at a 10% ratio)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

from opentelemetry import trace

_request_root: ContextVar[trace.Span | None] = ContextVar("flowledger_request_root", default=None)


def take_request_span() -> trace.Span | None:
    """The request's recording server span when it is the active one and no command has taken
    it yet; then it is taken. A command run for a request records on that span instead of a
    child of nearly the same extent and no more to say (one SDK span and its export fewer)."""
    root = _request_root.get()
    if root is None or trace.get_current_span() is not root:
        return None
    _request_root.set(None)
    return root


@contextlib.contextmanager
def as_request_root(current: trace.Span) -> Iterator[trace.Span]:
    """While a request's server span is active: there for its command to take (if recording)."""
    token = _request_root.set(current if current.is_recording() else None)
    try:
        yield current
    finally:
        _request_root.reset(token)


class UnsampledRoot(trace.NonRecordingSpan):
    """A new trace not sampled at its root: its ids and traceparent. The SpanContext is made
    only when something asks for it (a log line, a span continued under it)."""

    def __init__(self, trace_id: int, span_id: int) -> None:  # the context is made later
        self._ids = trace_id, span_id
        self._context: trace.SpanContext | None = None  # type: ignore[assignment]
        self.traceparent = f"00-{trace_id:032x}-{span_id:016x}-00"

    def get_span_context(self) -> trace.SpanContext:
        if self._context is None:
            trace_id, span_id = self._ids
            self._context = trace.SpanContext(
                trace_id, span_id, is_remote=False, trace_flags=trace.TraceFlags(0)
            )
        return self._context


_unsampled: ContextVar[UnsampledRoot | None] = ContextVar("flowledger_unsampled", default=None)


def unsampled_root() -> UnsampledRoot | None:
    """The unsampled new trace of the request being served, if it is one (see `server_span`)."""
    return _unsampled.get()


@contextlib.contextmanager
def as_unsampled_root(root: UnsampledRoot | None) -> Iterator[UnsampledRoot | None]:
    """`root` is the request's trace for the block (None: no unsampled root, e.g. while a
    sampled trace is continued inside it)."""
    token = _unsampled.set(root)
    try:
        yield root
    finally:
        _unsampled.reset(token)
