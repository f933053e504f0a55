"""The WebSocket close codes the gateway uses (documented in gateway/README.md)."""

UNAUTHORIZED = 4401
FORBIDDEN = 4403
NOT_FOUND = 4404
SLOW_CONSUMER = 4008
UNAVAILABLE = 1013
