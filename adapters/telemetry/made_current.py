"""A started span made the current one for a block, then ended: `trace.use_span(span,
end_on_exit=True)` as a class."""

from __future__ import annotations

from types import TracebackType

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode


class made_current:  # lower case, as contextlib names its context manager classes
    """What `use_span(started, end_on_exit=True)` does, without its generator: a sampled request
    passed three of them (the server span's, `start_as_current_span`'s and the append's), each a
    frame, a contextlib wrapper and a StopIteration. An exception (not a BaseException that is
    no error, as use_span) is recorded on the span and sets its status, then goes on."""

    __slots__ = ("_span", "_token")

    def __init__(self, started: trace.Span) -> None:
        self._span = started
        self._token: object | None = None

    def __enter__(self) -> trace.Span:
        self._token = otel_context.attach(trace.set_span_in_context(self._span))
        return self._span

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        started = self._span
        try:
            otel_context.detach(self._token)  # type: ignore[arg-type]
            if isinstance(error, Exception) and started.is_recording():
                started.record_exception(error)
                started.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
        finally:
            started.end()
