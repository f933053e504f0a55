"""The command bus's observer: one span and one count per command, trace context into its events."""

from __future__ import annotations

import contextlib
import time
from types import TracebackType

import msgspec
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from adapters.telemetry.metrics import COMMAND_SECONDS, COMMANDS, counted, observed
from adapters.telemetry.request_span import take_request_span
from adapters.telemetry.tracing import (
    current_traceparent,
    span,
    tracing_enabled,
    unsampled_active,
)
from commands.context import CommandContext
from commands.ports import VersionConflict
from domain.errors import DomainError


class TelemetryObserver:
    """Records each command on a span whose traceparent the appended events carry: the
    request's own server span when the command runs directly for a request, else a span of its
    own (`command <Name>`); no span at all inside a trace that was not sampled."""

    def observe(self, command: object, context: CommandContext) -> _Observed:
        return _Observed(type(command).__name__, context)


class _Observed:
    """One command's observation. A class rather than a generator: every command of every
    process passes here, most of them with no span to make (tracing off, or a trace not
    sampled), which is then a few attribute reads instead of two generators' frames."""

    __slots__ = ("_context", "_current", "_made", "_name", "_recording", "_started")

    def __init__(self, name: str, context: CommandContext) -> None:
        self._name, self._context = name, context
        self._made: contextlib.AbstractContextManager[trace.Span] | None = None
        self._current: trace.Span = trace.INVALID_SPAN
        self._recording = False

    def __enter__(self) -> CommandContext:
        self._started = time.perf_counter()
        context = self._context
        active = trace.get_current_span()  # looked up once: each look-up is ~3,000 instructions
        if (
            context.traceparent is None
            and not active.get_span_context().is_valid
            and not tracing_enabled()
        ):
            return context  # no trace to record or carry on: the command is counted only
        found = unsampled_active(active) or take_request_span(active)
        if found is None:
            self._made = span(f"command {self._name}", parent=context.traceparent)
            found = self._made.__enter__()
        self._current = found
        if found.is_recording():
            self._recording = True
            correlation = context.correlation_id
            found.set_attributes(
                {"flowledger.command": self._name, "flowledger.correlation_id": correlation}
            )
        # A span made here is the current one (or, tracing off, the active context's is).
        carried = current_traceparent(None if self._made is not None else found)
        traceparent = carried or context.traceparent
        if traceparent != context.traceparent:
            context = msgspec.structs.replace(context, traceparent=traceparent)
        return context

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        outcome = "ok"
        if error is not None:
            if isinstance(error, DomainError):
                outcome = "rejected"
                if self._recording:
                    self._current.set_attribute("flowledger.rejected", type(error).__name__)
            elif isinstance(error, VersionConflict):
                outcome = "conflict"
            else:
                outcome = "error"
                self._current.set_status(Status(StatusCode.ERROR, type(error).__name__))
        counted(COMMANDS, self._name, outcome).value += 1
        observed(COMMAND_SECONDS, self._name)(time.perf_counter() - self._started)
        if self._made is not None:
            return self._made.__exit__(kind, error, traceback)
        return None
