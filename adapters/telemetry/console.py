"""Log lines for a person at a terminal: time, level, where, message, extras; coloured by level.

`up` in a terminal used to print one JSON object per line; read by people, that drowned what
mattered. Collectors still get JSON: the format is chosen by FLOWLEDGER_LOG_FORMAT, `auto`
meaning console when stderr is a terminal.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from typing import IO

from adapters.telemetry.scrub import STANDARD_ATTRIBUTES, scrub

_RESET = "\x1b[0m"
_DIM = "\x1b[2m"
_COLOURS = {
    "DEBUG": "\x1b[2;37m",
    "INFO": "\x1b[32m",
    "WARNING": "\x1b[33m",
    "ERROR": "\x1b[31m",
    "CRITICAL": "\x1b[1;31m",
}
QUIETER = frozenset({"uvicorn.access", "httpx", "mcp.server.streamable_http_manager"})
"""Loggers whose INFO lines are routine (one per request, a runner's heartbeats among them):
they are DEBUG lines, in either format."""


def wants_console(log_format: str, stream: IO[str]) -> bool:
    """`console`/`text`, or `auto` on a terminal."""
    if log_format in ("console", "text"):
        return True
    return log_format == "auto" and _isatty(stream)


def wants_colour(stream: IO[str]) -> bool:
    """Colour on a terminal, unless NO_COLOR is set (https://no-color.org)."""
    return _isatty(stream) and not os.environ.get("NO_COLOR")


class ConsoleFormatter(logging.Formatter):
    """`12:03:04.567 WARNING runner: message key=value`, scrubbed like the JSON lines."""

    def __init__(self, *, colour: bool) -> None:
        super().__init__()
        self.colour = colour

    def format(self, record: logging.LogRecord) -> str:
        at = datetime.fromtimestamp(record.created).strftime("%H:%M:%S.%f")[:-3]
        level = f"{record.levelname:<7}"
        where = record.name.removeprefix("adapters.")
        extras = " ".join(
            f"{key}={value}"
            for key, value in vars(record).items()
            if key not in STANDARD_ATTRIBUTES and not key.startswith("_")
        )
        text = record.getMessage() + (f"  {extras}" if extras else "")
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        text = scrub(text)
        if not self.colour:
            return f"{at} {level} {where}: {text}"
        colour = _COLOURS.get(record.levelname, "")
        return f"{_DIM}{at}{_RESET} {colour}{level}{_RESET} {_DIM}{where}:{_RESET} {text}"


class RoutineAtDebug(logging.Filter):
    """Routine lines are DEBUG: shown only when the root level is DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name in QUIETER and record.levelno == logging.INFO:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger().isEnabledFor(logging.DEBUG)
        return True


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
