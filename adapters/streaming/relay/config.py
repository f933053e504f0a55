"""What the relay publishes to: the JetStream stream, its limits, and the subject prefix."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec
from nats.js.api import RetentionPolicy, StorageType, StreamConfig

from adapters.streaming.relay.subjects import DEFAULT_PREFIX

if TYPE_CHECKING:
    from adapters.platform.settings import Settings


class RelayConfig(msgspec.Struct, frozen=True, kw_only=True):
    stream: str = "FLOWLEDGER_EVENTS"
    prefix: str = DEFAULT_PREFIX
    max_age_s: int = 7 * 24 * 3600
    replicas: int = 1
    duplicate_window_s: int = 120
    max_msgs: int = -1
    """-1: no limit (retention is by age alone)."""
    max_bytes: int = -1
    batch: int = 100
    window: int = 64
    """Publishes awaiting their acks at once (1: one at a time)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> RelayConfig:
        return cls(
            stream=settings.relay_stream,
            max_age_s=settings.relay_max_age_s,
            replicas=settings.relay_replicas,
            duplicate_window_s=settings.relay_duplicate_window_s,
            max_msgs=settings.relay_max_msgs,
            max_bytes=settings.relay_max_bytes,
        )

    def stream_config(self) -> StreamConfig:
        return StreamConfig(
            name=self.stream,
            subjects=[f"{self.prefix}.>"],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            max_age=float(self.max_age_s),
            num_replicas=self.replicas,
            duplicate_window=float(self.duplicate_window_s),
            max_msgs=self.max_msgs,
            max_bytes=self.max_bytes,
        )
