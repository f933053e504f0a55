"""How a gateway streams: the relay's subject prefix, queue bound, heartbeat, re-checks."""

from __future__ import annotations

import msgspec

from adapters.relay.subjects import DEFAULT_PREFIX


class GatewayConfig(msgspec.Struct, frozen=True, kw_only=True):
    prefix: str = DEFAULT_PREFIX
    """Must equal the relay's prefix: the gateway subscribes to the subjects it publishes."""
    queue_size: int = 1000
    """Messages a connection may have waiting before it is closed as a slow consumer."""
    heartbeat_s: float = 20.0
    recheck_s: float = 10.0
    """How often a connection's credential is checked again (a revoked key is cut off)."""
    replay_batch: int = 500
