"""A tracer provider installed for one test module or test, and removed after it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.test.globals_test import reset_trace_globals

from adapters.telemetry.provider import install_tracer_provider


@contextlib.contextmanager
def installed(provider: TracerProvider) -> Iterator[TracerProvider]:
    """`provider` installed as the app installs one; afterwards none. OpenTelemetry lets a
    process set its global once, so one left behind would make every later test's spans
    record (and change the traceparents they propagate): its globals are reset around it."""
    reset_trace_globals()
    install_tracer_provider(provider)
    try:
        yield provider
    finally:
        provider.shutdown()
        install_tracer_provider(None)
        reset_trace_globals()
