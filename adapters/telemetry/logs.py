"""Logs as one JSON object per line, with the request and trace in play and secrets scrubbed."""

from __future__ import annotations

import contextvars
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

import msgspec
from opentelemetry import trace

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
"""The X-Request-ID of the request being served, set by the HTTP middleware."""

# Anything shaped like a credential is replaced before a line is written, whoever logged it:
# API key tokens, bearer tokens, JWTs, URL passwords, and key=value pairs with secret-ish keys.
_SCRUBBERS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"flk_[0-9a-f]+_[A-Za-z0-9_\-]+"), "flk_<redacted>"),
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=\-]+"), r"\1<redacted>"),
    (re.compile(r"eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*"), "<redacted-jwt>"),
    (re.compile(r"(://[^:/@\s,]*:)[^@/\s,]*@"), r"\1***@"),
    (
        re.compile(
            r"(?i)\b((?:api[_-]?key|token|secret|password|passwd|cipher[_-]?key|jwt[_-]?secret)"
            r"[\"']?\s*[:=]\s*[\"']?)[^\s\"',;&]+"
        ),
        r"\1<redacted>",
    ),
)

# Attributes every LogRecord has; anything else was passed in `extra=` and is logged as a field.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's ANSI-coloured copy of the message
}


def scrub(text: str) -> str:
    """`text` with every credential-shaped substring replaced."""
    for pattern, replacement in _SCRUBBERS:
        text = pattern.sub(replacement, text)
    return text


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
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = scrub(value) if isinstance(value, str) else value
        if record.exc_info:
            line["exception"] = scrub(self.formatException(record.exc_info))
        return msgspec.json.encode(line, enc_hook=str).decode()


class ScrubbingTextFormatter(logging.Formatter):
    """The plain text format, for a person at a terminal, with the same scrubbing."""

    def __init__(self) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


def configure_logging(level: str, log_format: str = "json") -> None:
    """Route every logger (ours, uvicorn's, litestar's) through one scrubbing handler on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else ScrubbingTextFormatter())
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
