"""The NATS relay: every committed event, in position order, on one JetStream stream."""

from adapters.streaming.relay.config import RelayConfig
from adapters.streaming.relay.relay import Relay

__all__ = ["Relay", "RelayConfig"]
