"""What every log line goes through, whatever its format: credentials scrubbed, and which of
a record's attributes are its own fields."""

from __future__ import annotations

import logging
import re

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
STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
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
