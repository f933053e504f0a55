"""Logs as one JSON object per line, with the request and trace in play and secrets scrubbed."""

from __future__ import annotations

import contextvars
import logging
import sys
from datetime import UTC, datetime
from typing import Any

import msgspec
from opentelemetry import trace

from adapters.telemetry.scrub import STANDARD_ATTRIBUTES, scrub

__all__ = ["STANDARD_ATTRIBUTES", "JsonFormatter", "configure_logging", "request_id", "scrub"]

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
"""The X-Request-ID of the request being served, set by the HTTP middleware."""


class JsonFormatter(logging.Formatter):
    """time, level, logger, message, request_id, trace_id, span_id, then the record's extras."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        rid = request_id.get()
        if rid is not None:
            line["request_id"] = rid
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            line["trace_id"] = format(span.trace_id, "032x")
            line["span_id"] = format(span.span_id, "016x")
        for key, value in vars(record).items():
            if key not in STANDARD_ATTRIBUTES and not key.startswith("_"):
                line[key] = scrub(value) if isinstance(value, str) else value
        if record.exc_info:
            line["exception"] = scrub(self.formatException(record.exc_info))
        return msgspec.json.encode(line, enc_hook=str).decode()


def configure_logging(level: str, log_format: str = "json") -> None:
    """Route every logger (ours, uvicorn's, litestar's) through one scrubbing handler on stderr:
    JSON lines, or console lines (`console`, `text`, or `auto` on a terminal)."""
    from adapters.telemetry.console import (
        ConsoleFormatter,
        RoutineAtDebug,
        wants_colour,
        wants_console,
    )

    handler = logging.StreamHandler(sys.stderr)
    console = wants_console(log_format, sys.stderr)
    handler.setFormatter(
        ConsoleFormatter(colour=wants_colour(sys.stderr)) if console else JsonFormatter()
    )
    handler.addFilter(RoutineAtDebug())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        # uvicorn installs its own handlers; ours format and scrub its lines too.
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
