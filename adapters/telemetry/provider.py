"""This process's tracer provider: the one place that installs it, and what hot paths ask."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

TRACER_NAME = "flowledger"

_provider: TracerProvider | None = None
_tracer: trace.Tracer = trace.NoOpTracer()


def install_tracer_provider(provider: TracerProvider | None) -> None:
    """Install `provider` as this process's tracer provider; None stops this code's tracing.

    Every install in this codebase goes through here (a test checks it), so whether tracing is
    on is a module attribute: OpenTelemetry's `get_tracer_provider()` reads `os.environ` on
    each call (~5,000 instructions, a caught KeyError), once per append and per request.
    OpenTelemetry's global is set too, for libraries; it is set once per process and its
    public API cannot unset it, so None only turns off the spans of this code.
    """
    global _provider, _tracer
    if provider is not None:
        trace.set_tracer_provider(provider)
    _provider = provider
    # the SDK's get_tracer costs ~10 us a call: one tracer per install
    _tracer = trace.NoOpTracer() if provider is None else provider.get_tracer(TRACER_NAME)


def tracing_enabled() -> bool:
    """Whether this process installed a tracer provider (otherwise every span is a no-op)."""
    return _provider is not None


def tracer() -> trace.Tracer:
    """This process's tracer: the installed provider's, or a no-op one."""
    return _tracer


def installed_provider() -> TracerProvider | None:
    """The provider `install_tracer_provider` installed last, or None."""
    return _provider
