"""The rules of the settings of how work moves: the relay's and dispatcher's JetStream
streams, and the scheduler's pace."""

from __future__ import annotations

from adapters.platform.setting_values import Parse, int_in, stream_name

_LIMIT = "expected a positive integer, or -1 for no limit"
_REPLICAS = "expected 1 to 5 replicas"

WORK_SETTINGS: dict[str, Parse] = {
    "relay_stream": stream_name,
    "relay_max_age_s": int_in(1, 10 * 365 * 86400, "expected a positive number of seconds"),
    "relay_replicas": int_in(1, 5, _REPLICAS),
    "relay_duplicate_window_s": int_in(1, 86400, "expected 1 to 86400 seconds"),
    "relay_max_msgs": int_in(-1, 2**62, _LIMIT),
    "relay_max_bytes": int_in(-1, 2**62, _LIMIT),
    "dispatch_stream": stream_name,
    "dispatch_replicas": int_in(1, 5, _REPLICAS),
    "dispatch_duplicate_window_s": int_in(1, 7 * 86400, "expected 1 to 604800 seconds"),
    "scheduler_tick_ms": int_in(10, 60000, "expected 10 to 60000 milliseconds"),
    "scheduler_grace_s": int_in(1, 86400, "expected 1 to 86400 seconds"),
    "scheduler_batch_size": int_in(1, 1000, "expected 1 to 1000 slots"),
}
