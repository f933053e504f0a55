"""The NATS relay: every committed event, in position order, on one JetStream stream."""

from adapters.relay.config import RelayConfig
from adapters.relay.relay import Relay

__all__ = ["Relay", "RelayConfig"]
