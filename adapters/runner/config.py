"""What one runner process is: its name and labels, where the API and NATS are, its limits."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from pathlib import Path

import msgspec

from adapters.platform.settings import Settings
from adapters.streaming.jobs import DEFAULT_STREAM
from adapters.streaming.relay.subjects import DEFAULT_PREFIX

ACK_WAIT_S = 30.0
"""How long JetStream waits for an ack before redelivering; a running step renews it."""


class RunnerConfig(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    labels: tuple[str, ...]
    concurrency: int
    api_url: str
    token: str
    nats_url: str
    jobs_stream: str = DEFAULT_STREAM
    events_prefix: str = DEFAULT_PREFIX
    heartbeat_s: float = 10.0
    kill_grace_s: float = 10.0
    shutdown_grace_s: float = 30.0
    log_chunk_bytes: int = 16 * 1024
    log_step_bytes: int = 4 * 1024 * 1024
    log_flush_s: float = 0.2
    """A log line waits at most this long on the runner before it is sent (plus one POST)."""
    work_dir: Path | None = None
    ack_wait_s: float = ACK_WAIT_S
    fetch_wait_s: float = 2.0
    """How long one pull waits for a job: also how soon a stopping runner stops pulling."""
    version: str = "0"
    give_up_after_s: float = 900.0
    """How long the API or NATS may stay unreachable before the runner exits."""
    quiet_stop: bool = False
    """`up`'s own runner: its API stops with it, so a failed deregistration is expected."""
    masked_env: tuple[str, ...] = ()
    """The runner's environment variables whose values every step's log and outputs mask."""
    artifact_max_bytes: int = 10 * 2**30
    workspace_keep_failed_s: float = 3600.0
    """How long a failed run's folders stay on this runner (for debugging)."""
    jenkins_poll_s: float = 1.0
    """How often a jenkins step asks Jenkins about its queue item and console."""
    mirror_max_age_s: float = 14 * 86400.0
    """A repository mirror no checkout used this long is removed (mirror_pruning.py)."""
    mirror_max_bytes: int = 20 * 2**30
    """Past this total the least recently used mirrors are removed; 0: no cap."""
    mirror_prune_every_s: float = 3600.0

    def masked_values(self, environ: Mapping[str, str]) -> list[str]:
        """The values to mask in a step's output: of `masked_env`, those set in `environ`."""
        return [environ[name] for name in self.masked_env if environ.get(name)]

    @classmethod
    def from_settings(
        cls, settings: Settings, *, api_url: str, token: str, nats_url: str, **overrides: object
    ) -> RunnerConfig:
        from importlib.metadata import version

        fields: dict[str, object] = {
            "name": settings.runner_name or socket.gethostname(),
            "labels": settings.runner_labels,
            "concurrency": settings.runner_concurrency,
            "api_url": api_url,
            "token": token,
            "nats_url": nats_url,
            "jobs_stream": settings.dispatch_stream,
            "heartbeat_s": float(settings.runner_heartbeat_interval_s),
            "kill_grace_s": float(settings.runner_kill_grace_s),
            "shutdown_grace_s": float(settings.runner_shutdown_grace_s),
            "log_chunk_bytes": settings.runner_log_chunk_bytes,
            "log_step_bytes": settings.runner_log_step_bytes,
            "work_dir": settings.runner_work_dir,
            "masked_env": settings.runner_masked_env,
            "version": version("flowledger"),
            "give_up_after_s": float(settings.runner_give_up_after_s),
            "artifact_max_bytes": settings.runner_artifact_max_bytes,
            "workspace_keep_failed_s": float(settings.runner_workspace_keep_failed_s),
            "mirror_max_age_s": float(settings.runner_mirror_max_age_s),
            "mirror_max_bytes": settings.runner_mirror_max_bytes,
            "mirror_prune_every_s": float(settings.runner_mirror_prune_every_s),
        }
        fields.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**fields)  # type: ignore[arg-type]
