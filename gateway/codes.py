"""The WebSocket close codes the gateway uses (documented in gateway/README.md)."""

BAD_REQUEST = 4400
UNAUTHORIZED = 4401
FORBIDDEN = 4403
NOT_FOUND = 4404
SLOW_CONSUMER = 4008
UNAVAILABLE = 1013
GOING_AWAY = 1001
REASON_BYTES = 123
"""A close frame's payload is at most 125 bytes, 2 of them the code."""


def reason(text: str) -> str:
    """`text` cut to fit a close frame, on a character boundary."""
    return text.encode()[:REASON_BYTES].decode(errors="ignore")
