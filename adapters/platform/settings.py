"""Typed process settings read from FLOWLEDGER_* variables layered over optional dotenv files.

Each concern's variables have their rules beside it: `server_settings`, `work_settings`,
`telemetry_settings`, `runner_settings`, `outbound_settings` and `secret_settings`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from adapters.platform.dotenv import parse_dotenv
from adapters.platform.outbound_settings import OUTBOUND_SETTINGS
from adapters.platform.runner_settings import RUNNER_SETTINGS
from adapters.platform.secret_settings import SECRET_FIELDS, SECRET_SETTINGS
from adapters.platform.server_settings import SERVER_SETTINGS
from adapters.platform.setting_values import Parse, redact
from adapters.platform.telemetry_settings import TELEMETRY_SETTINGS
from adapters.platform.work_settings import WORK_SETTINGS

PREFIX = "FLOWLEDGER_"
# Lowest precedence first; the real environment beats all of them.
DOTENV_FILES = (".env.default", ".env", ".env.local")
DEFAULT_DATA_DIR = ".flowledger"  # relative to the working directory
_PARSERS: dict[str, Parse] = {
    **SERVER_SETTINGS,
    **WORK_SETTINGS,
    **TELEMETRY_SETTINGS,
    **RUNNER_SETTINGS,
    **OUTBOUND_SETTINGS,
    **SECRET_SETTINGS,
}
"""Each field's rule; the variables are read, and their problems listed, in field order."""


class SettingsError(ValueError):
    """One or more settings are invalid; `problems` holds one line per variable."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(problems))


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    database_url: str | None = None
    nats_url: str | None = None
    data_dir: Path = msgspec.field(default_factory=lambda: Path(DEFAULT_DATA_DIR).resolve())
    host: str = "127.0.0.1"
    port: int = 8000
    max_event_bytes: int = 1_048_576
    log_level: str = "INFO"
    jwt_secret: str | None = None
    """HS256 secret for bearer JWTs; None: JWT authentication is off (API keys only)."""
    cipher_key: str | None = None
    """Base64 AES key sealing webhook secrets at rest; None: see `resolve_cipher_key`."""
    cors_origins: tuple[str, ...] = ()
    rate_limit_per_key: int = 6000
    """Requests per minute per presented credential; 0 disables the limit."""
    rate_limit_per_address: int = 12000
    """Requests per minute per client address; 0 disables the limit."""
    max_body_bytes: int = 1_048_576
    """Largest accepted API request body."""
    relay_stream: str = "FLOWLEDGER_EVENTS"
    """The JetStream stream the relay publishes every event to."""
    relay_max_age_s: int = 7 * 24 * 3600
    relay_replicas: int = 1
    relay_duplicate_window_s: int = 120
    """How long JetStream remembers an event id to drop a republished copy."""
    relay_max_msgs: int = -1
    """-1: no limit."""
    relay_max_bytes: int = -1
    """-1: no limit."""
    log_format: str = "auto"
    """json: one object per line (for collectors); console (or text): for a person at a
    terminal, coloured there; auto: console when stderr is a terminal, else json."""
    traces_exporter: str = "none"
    """none, console (spans on stdout) or otlp (OTLP over HTTP)."""
    otlp_endpoint: str | None = None
    """Where OTLP spans go, e.g. http://collector:4318/v1/traces; unset: OTEL_EXPORTER_OTLP_*."""
    trace_sample_ratio: float = 1.0
    """Share of new traces recorded (0 to 1); a continued trace keeps its first decision."""
    metrics_enabled: bool = True
    """Serve Prometheus metrics at /metrics and count requests."""
    probe_port: int | None = None
    """Roles without an API (projector, relay, intake, dispatcher, runner) serve /health and
    /metrics on this port when it is set."""
    ready_max_lag_s: int = 60
    """/ready fails while a view is further behind than this; 0: lag is reported, not judged."""
    api_pool_size: int = 20
    """PostgreSQL connections one API process shares: commands, queries, /ready, WebSockets."""
    gateway_pool_size: int = 10
    """PostgreSQL connections of a `flowledger gateway` (credentials, backfills)."""
    intake_pool_size: int = 4
    """PostgreSQL connections of a `flowledger intake` (its runtime holds its own, apart)."""
    dispatcher_pool_size: int = 4
    """PostgreSQL connections of a `flowledger dispatcher` (its runtime holds its own, apart)."""
    dispatch_stream: str = "FLOWLEDGER_JOBS"
    """The JetStream work-queue stream the dispatcher publishes step jobs to."""
    dispatch_replicas: int = 1
    dispatch_duplicate_window_s: int = 86400
    """How long JetStream remembers a job id to drop a republished copy of the job."""
    runner_heartbeat_interval_s: int = 10
    """How often a runner heartbeats."""
    runner_lost_after_s: int = 30
    """A runner silent this long is marked lost and its running steps fail `runner_lost`."""
    queue_timeout_s: int = 0
    """A step job no runner started this long after dispatch fails `no_runner`, unless the
    step sets its own `queue_timeout_s`; 0: it waits for a runner as long as its run lasts."""
    scheduler_tick_ms: int = 1000
    """How often a scheduler looks for due slots (it wakes on each whole multiple)."""
    scheduler_grace_s: int = 60
    """A slot older than this when first seen was missed (downtime): its catch-up decides."""
    scheduler_pool_size: int = 8
    """PostgreSQL connections of a `flowledger scheduler`."""
    api_url: str | None = None
    """Where runners and `flowledger run` reach the HTTP API; None: http://host:port above."""
    api_key: str | None = None
    """The API key `flowledger run` sends (X-API-Key)."""
    runner_token: str | None = None
    """The `runner`-scoped API key a runner sends."""
    runner_name: str | None = None
    """None: the host name."""
    runner_labels: tuple[str, ...] = ("linux",)
    runner_concurrency: int = 2
    """Steps one runner runs at once."""
    runner_kill_grace_s: int = 10
    """After SIGTERM (cancel, timeout), how long a step has before SIGKILL."""
    runner_shutdown_grace_s: int = 30
    """On SIGTERM, how long a runner lets its running steps finish before stopping them."""
    runner_log_chunk_bytes: int = 16 * 1024
    """Largest log chunk a runner sends (the API takes at most 64 KiB)."""
    runner_log_step_bytes: int = 4 * 1024 * 1024
    """Output kept per step attempt; the rest is counted and recorded as truncated."""
    runner_work_dir: Path | None = None
    """Where steps' fresh working folders are made; None: the system's temporary folder."""
    runner_give_up_after_s: int = 900
    """A runner whose API or NATS stays unreachable this long exits (status 1)."""
    runner_masked_env: tuple[str, ...] = ()
    """Names of the runner's environment variables (steps inherit them) whose values are
    masked as `***` in every step's log and outputs."""
    outbound_allow: tuple[str, ...] = ()
    """Outbound webhook targets allowed although not public: host names, addresses, CIDRs."""
    outbound_retry_for_s: int = 3600
    """How long a failing delivery is retried before it is parked."""
    outbound_backoff_base_ms: int = 1000
    """The first retry waits up to this; each next one up to twice as long (full jitter)."""
    outbound_backoff_cap_s: int = 300
    """No wait between retries is longer."""
    outbound_timeout_s: int = 10
    """One delivery request's time limit (connect, send, answer)."""
    outbound_disable_after_parked: int = 5
    """A subscription with this many deliveries in a row parked is disabled, with the reason."""
    github_api_url: str = "https://api.github.com"
    """Where commit statuses of GitHub-triggered runs go (GitHub Enterprise: its /api/v3)."""
    gitlab_api_url: str = "https://gitlab.com/api/v4"
    """Where commit statuses of GitLab-triggered runs go (a self-managed GitLab's /api/v4)."""
    public_url: str | None = None
    """The address people open the dashboard at (commit statuses link runs there); None: the
    API's address (FLOWLEDGER_API_URL, else http://host:port)."""
    deliverer_pool_size: int = 8
    """PostgreSQL connections of a `flowledger deliverer` (its attempts log, its lock)."""
    runner_artifact_max_bytes: int = 10 * 2**30
    """Largest artifact, workspace or cache entry a runner uploads; a bigger one fails the step."""
    runner_workspace_keep_failed_s: int = 3600
    """How long a runner keeps a failed run's workspace folders (for debugging)."""
    cache_max_bytes: int = 10 * 2**30
    """Per project: past this total the least recently used cache entries are evicted."""
    cache_default_branch: str = "main"
    """A branch without a cache entry for the key falls back to this branch's entry."""
    workspace_retention_days: int = 1
    """How long a step's workspace, uploaded for dependents on other runners, is kept."""
    artifact_sweep_interval_s: int = 60
    """How often the dispatcher deletes expired artifacts and evicts caches over the limit."""
    read_your_writes_ms: int = 2000
    """How long a caller's read without `min_position` waits for the views to reach the
    caller's own last write (made in the last 10 s) before answering anyway; 0: no wait."""
    scheduler_batch_size: int = 250
    """Due slots a scheduler fires with one command (one read of their pipelines, one append)."""
    runner_mirror_max_age_s: int = 14 * 86400
    """A runner removes its mirror of a repository no step checked out for this long."""
    runner_mirror_max_bytes: int = 20 * 2**30
    """Past this total a runner removes its least recently used repository mirrors; 0: no cap."""
    runner_mirror_prune_every_s: int = 3600
    """How often a runner looks for mirrors to remove (and once when it starts)."""

    def __repr__(self) -> str:
        # Settings end up in logs and tracebacks; the secrets must not.
        fields = {f: getattr(self, f) for f in self.__struct_fields__}
        shown = ", ".join(
            f"{f}={'<redacted>' if f in SECRET_FIELDS and v is not None else repr(v)}"
            for f, v in fields.items()
        )
        return f"Settings({shown})"


def load_settings(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Settings:
    """Build Settings from dotenv files in `cwd` overlaid by `environ` (default: os.environ).

    An empty value counts as unset, so `FLOWLEDGER_DATABASE_URL=` in a later layer
    switches back to the embedded server.
    """
    cwd = (cwd or Path.cwd()).resolve()
    environ = os.environ if environ is None else environ
    problems: list[str] = []
    values: dict[str, tuple[str, str]] = {}  # variable -> (raw value, where it came from)
    for name in DOTENV_FILES:
        path = cwd / name
        if path.is_file():
            for key, value in parse_dotenv(path.read_text(encoding="utf-8"), str(path), problems):
                values[key] = (value, f" (set in {path})")
    values.update((k, (v, "")) for k, v in environ.items())

    fields: dict[str, Any] = {}
    for field in Settings.__struct_fields__:
        parse = _PARSERS[field]
        var = PREFIX + field.upper()
        raw, origin = values.get(var, ("", ""))
        if not raw.strip():
            continue
        try:
            fields[field] = parse(raw.strip(), cwd)
        except ValueError as exc:
            shown = "<redacted>" if field in SECRET_FIELDS else repr(redact(raw))
            problems.append(f"{var}={shown}: {exc}{origin}")
    if problems:
        raise SettingsError(problems)
    fields.setdefault("data_dir", cwd / DEFAULT_DATA_DIR)
    return Settings(**fields)
