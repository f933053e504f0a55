"""One call per process: its logs and its tracer provider, from settings."""

from __future__ import annotations

from adapters.platform.settings import Settings
from adapters.telemetry.logs import configure_logging
from adapters.telemetry.tracing import configure_tracing


def configure_telemetry(settings: Settings, service: str) -> None:
    """JSON (or text) logs on stderr; spans to the configured exporter as `flowledger-<role>`."""
    configure_logging(settings.log_level, settings.log_format)
    configure_tracing(
        f"flowledger-{service}",
        exporter=settings.traces_exporter,
        sample_ratio=settings.trace_sample_ratio,
        otlp_endpoint=settings.otlp_endpoint,
    )
