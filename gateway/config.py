"""How a gateway streams: the relay's subject prefix, queue bound, heartbeat, re-checks."""

from __future__ import annotations

import msgspec

from adapters.streaming.relay.subjects import DEFAULT_PREFIX


class GatewayConfig(msgspec.Struct, frozen=True, kw_only=True):
    prefix: str = DEFAULT_PREFIX
    """Must equal the relay's prefix: the gateway subscribes to the subjects it publishes."""
    queue_size: int = 1000
    """Messages a connection may have waiting before it is closed as a slow consumer."""
    heartbeat_s: float = 20.0
    """Between heartbeats; also how long one send may stall before the client is cut off."""
    recheck_s: float = 10.0
    """How often credentials are checked again (a revoked key is cut off)."""
    replay_batch: int = 500
    connect_wait_s: float = 3.0
    """How long a connection waits for the process's first NATS connection before 1013."""
    reconnect_wait_s: float = 0.5
    """Between attempts to reconnect to NATS."""
    close_wait_s: float = 5.0
    """How long closing a socket may take (a stalled client never reads its close frame)."""
