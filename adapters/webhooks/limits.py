"""How big a delivery may be, and so how big its recorded event may grow."""

from __future__ import annotations

MAX_BODY_BYTES = 25 * 1024 * 1024
"""GitHub's cap on a webhook payload; the other providers send far less."""
MAX_EVENT_BYTES = 2 * MAX_BODY_BYTES + 64 * 1024
# The payload is stored as a JSON string. Valid JSON holds no raw control characters but
# whitespace, so escaping at most doubles it (`"`, `\`, newline, tab: two bytes each);
# typical payloads grow 7-12%. Sealed (personal data), it is base64 of the body: 4/3 of it.
# 64 KiB more covers the headers and the other fields.
