"""Typed process settings read from FLOWLEDGER_* variables layered over optional dotenv files."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import logging
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec

PREFIX = "FLOWLEDGER_"
# Lowest precedence first; the real environment beats all of them.
DOTENV_FILES = (".env.default", ".env", ".env.local")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
DEFAULT_DATA_DIR = ".flowledger"  # relative to the working directory
CIPHER_KEY_FILE = "cipher.key"
JWT_SECRET_MIN = 32
CIPHER_KEY_BYTES = 32  # AES-256: what adapters.platform.secrets.SecretBox accepts
SECRET_FIELDS = frozenset({"jwt_secret", "cipher_key", "api_key", "runner_token"})
"""Never echoed in an error message, not even in part."""

log = logging.getLogger(__name__)


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
    for field, parse in _PARSERS.items():
        var = PREFIX + field.upper()
        raw, origin = values.get(var, ("", ""))
        if not raw.strip():
            continue
        try:
            fields[field] = parse(raw.strip(), cwd)
        except ValueError as exc:
            shown = "<redacted>" if field in SECRET_FIELDS else repr(_redact(raw))
            problems.append(f"{var}={shown}: {exc}{origin}")
    if problems:
        raise SettingsError(problems)
    fields.setdefault("data_dir", cwd / DEFAULT_DATA_DIR)
    return Settings(**fields)


def parse_dotenv(text: str, source: str, problems: list[str]) -> list[tuple[str, str]]:
    """Parse KEY=VALUE lines (optional `export `, # comments, '…' literal, "…" with escapes)."""
    pairs = []
    for lineno, line in enumerate(text.splitlines(), 1):
        match = _LINE.match(line)
        if match is None:
            if line.strip() and not line.lstrip().startswith("#"):
                problems.append(f"{source}:{lineno}: expected KEY=VALUE, got {line.strip()!r}")
            continue
        key, rest = match.group(1), match.group(2).strip()
        if rest[:1] in ("'", '"'):
            quoted = _QUOTED[rest[0]].match(rest)
            if quoted is None:
                problems.append(f"{source}:{lineno}: unterminated quote in value of {key}")
                continue
            value = quoted.group(1)
            if rest[0] == '"':
                value = _ESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(0)), value)
        else:
            value = re.split(r"\s#", rest, maxsplit=1)[0].strip()
        pairs.append((key, value))
    return pairs


_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=(.*)$")
_QUOTED = {
    "'": re.compile(r"^'([^']*)'\s*(?:#.*)?$"),
    '"': re.compile(r'^"((?:[^"\\]|\\.)*)"\s*(?:#.*)?$'),
}
_ESCAPE = re.compile(r"\\(.)")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


_RATE_LIMIT = "expected a non-negative integer of requests per minute (0 disables the limit)"
_POOL_SIZE = "expected 3 to 1000 connections"


def _redact(value: str) -> str:
    # A rejected URL may still carry a real password; keep it out of error logs.
    return re.sub(r"(://[^:/@,]*:)[^@/,]*@", r"\1***@", value)


def _database_url(raw: str, _cwd: Path) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ValueError("expected a postgres:// or postgresql:// URL")
    return raw


def _nats_url(raw: str, _cwd: Path) -> str:
    urls = [u.strip() for u in raw.split(",")]
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("nats", "tls") or not parts.hostname:
            raise ValueError("expected nats://host:port or tls://host:port URLs, comma-separated")
    return ",".join(urls)


def _data_dir(raw: str, cwd: Path) -> Path:
    return (cwd / Path(raw).expanduser()).resolve()


def _host(raw: str, _cwd: Path) -> str:
    if any(c.isspace() for c in raw):
        raise ValueError("expected a host name or IP address")
    return raw


def _int_in(low: int, high: int, expectation: str) -> Callable[[str, Path], int]:
    def parse(raw: str, _cwd: Path) -> int:
        try:
            value = int(raw)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise ValueError(expectation)
        return value

    return parse


def _jwt_secret(raw: str, _cwd: Path) -> str:
    if len(raw) < JWT_SECRET_MIN:
        raise ValueError(f"expected at least {JWT_SECRET_MIN} characters (HS256 secret)")
    return raw


def _cipher_key(raw: str, _cwd: Path) -> str:
    try:
        size = len(base64.b64decode(raw, validate=True))
    except (binascii.Error, ValueError):
        size = -1
    if size != CIPHER_KEY_BYTES:
        raise ValueError(
            f"expected the base64 encoding of {CIPHER_KEY_BYTES} random bytes "
            "(e.g. the output of `openssl rand -base64 32`)"
        )
    return raw


def _cors_origins(raw: str, _cwd: Path) -> tuple[str, ...]:
    origins = tuple(o.strip().rstrip("/") for o in raw.split(","))
    if origins == ("*",):
        return origins
    for origin in origins:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path:
            raise ValueError(
                "expected `*` alone, or comma-separated origins like https://app.example.com"
            )
    return origins


def _stream_name(raw: str, _cwd: Path) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", raw):
        raise ValueError("expected 1 to 64 letters, digits, `_` or `-` (a JetStream stream name)")
    return raw


_LIMIT = "expected a positive integer, or -1 for no limit"


def _log_level(raw: str, _cwd: Path) -> str:
    if raw.upper() not in LOG_LEVELS:
        raise ValueError(f"expected one of {', '.join(LOG_LEVELS)}")
    return raw.upper()


def _one_of(*allowed: str) -> Callable[[str, Path], str]:
    def parse(raw: str, _cwd: Path) -> str:
        if raw.lower() not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)}")
        return raw.lower()

    return parse


def _ratio(raw: str, _cwd: Path) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise ValueError("expected a number from 0 to 1, e.g. 0.1 to record one trace in ten")
    return value


def _flag(raw: str, _cwd: Path) -> bool:
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


def _http_url(raw: str, _cwd: Path) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected an http:// or https:// URL")
    return raw


def _token(raw: str, _cwd: Path) -> str:
    if any(c.isspace() for c in raw):
        raise ValueError("expected an API key token (no spaces)")
    return raw


def _runner_name(raw: str, _cwd: Path) -> str:
    if len(raw) > 128:
        raise ValueError("expected at most 128 characters")
    return raw


def _labels(raw: str, _cwd: Path) -> tuple[str, ...]:
    labels = tuple(dict.fromkeys(label.strip() for label in raw.split(",")))
    if not all(re.fullmatch(r"[A-Za-z0-9_.:-]{1,100}", label) for label in labels):
        raise ValueError("expected comma-separated labels of letters, digits, '_', '.', ':', '-'")
    return labels


def _env_names(raw: str, _cwd: Path) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(name.strip() for name in raw.split(",") if name.strip()))
    if not all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,99}", name) for name in names):
        raise ValueError("expected comma-separated environment variable names")
    return names


def _allow_list(raw: str, _cwd: Path) -> tuple[str, ...]:
    entries = tuple(dict.fromkeys(e.strip() for e in raw.split(",") if e.strip()))
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            if not re.fullmatch(r"[A-Za-z0-9.-]{1,253}", entry):
                raise ValueError(
                    f"{entry!r}: expected comma-separated host names, addresses or CIDRs"
                ) from None
    return entries


_PARSERS: dict[str, Callable[[str, Path], Any]] = {
    "database_url": _database_url,
    "nats_url": _nats_url,
    "data_dir": _data_dir,
    "host": _host,
    "port": _int_in(1, 65535, "expected an integer port between 1 and 65535"),
    "max_event_bytes": _int_in(1, 2**31 - 1, "expected a positive integer number of bytes"),
    "log_level": _log_level,
    "jwt_secret": _jwt_secret,
    "cipher_key": _cipher_key,
    "cors_origins": _cors_origins,
    "rate_limit_per_key": _int_in(0, 10**9, _RATE_LIMIT),
    "rate_limit_per_address": _int_in(0, 10**9, _RATE_LIMIT),
    "max_body_bytes": _int_in(1, 2**31 - 1, "expected a positive integer number of bytes"),
    "relay_stream": _stream_name,
    "relay_max_age_s": _int_in(1, 10 * 365 * 86400, "expected a positive number of seconds"),
    "relay_replicas": _int_in(1, 5, "expected 1 to 5 replicas"),
    "relay_duplicate_window_s": _int_in(1, 86400, "expected 1 to 86400 seconds"),
    "relay_max_msgs": _int_in(-1, 2**62, _LIMIT),
    "relay_max_bytes": _int_in(-1, 2**62, _LIMIT),
    "log_format": _one_of("auto", "json", "console", "text"),
    "traces_exporter": _one_of("none", "console", "otlp"),
    "otlp_endpoint": _http_url,
    "trace_sample_ratio": _ratio,
    "metrics_enabled": _flag,
    "probe_port": _int_in(1, 65535, "expected an integer port between 1 and 65535"),
    "ready_max_lag_s": _int_in(0, 86400, "expected 0 to 86400 seconds"),
    # At least 3: the event store's group commit holds 2 while it flushes.
    "api_pool_size": _int_in(3, 1000, _POOL_SIZE),
    "gateway_pool_size": _int_in(3, 1000, _POOL_SIZE),
    "intake_pool_size": _int_in(3, 1000, _POOL_SIZE),
    "dispatcher_pool_size": _int_in(3, 1000, _POOL_SIZE),
    "dispatch_stream": _stream_name,
    "dispatch_replicas": _int_in(1, 5, "expected 1 to 5 replicas"),
    "dispatch_duplicate_window_s": _int_in(1, 7 * 86400, "expected 1 to 604800 seconds"),
    "runner_heartbeat_interval_s": _int_in(1, 3600, "expected 1 to 3600 seconds"),
    "runner_lost_after_s": _int_in(2, 86400, "expected 2 to 86400 seconds"),
    "queue_timeout_s": _int_in(0, 86400, "expected 0 to 86400 seconds"),
    "scheduler_tick_ms": _int_in(10, 60000, "expected 10 to 60000 milliseconds"),
    "scheduler_grace_s": _int_in(1, 86400, "expected 1 to 86400 seconds"),
    "scheduler_pool_size": _int_in(3, 1000, _POOL_SIZE),
    "api_url": _http_url,
    "api_key": _token,
    "runner_token": _token,
    "runner_name": _runner_name,
    "runner_labels": _labels,
    "runner_concurrency": _int_in(1, 1000, "expected 1 to 1000 steps at once"),
    "runner_kill_grace_s": _int_in(0, 3600, "expected 0 to 3600 seconds"),
    "runner_shutdown_grace_s": _int_in(0, 86400, "expected 0 to 86400 seconds"),
    "runner_log_chunk_bytes": _int_in(1024, 65536, "expected 1024 to 65536 bytes"),
    "runner_log_step_bytes": _int_in(1024, 2**31 - 1, "expected at least 1024 bytes"),
    "runner_work_dir": _data_dir,
    "runner_masked_env": _env_names,
    "runner_give_up_after_s": _int_in(1, 86400 * 7, "expected 1 to 604800 seconds"),
    "outbound_allow": _allow_list,
    "outbound_retry_for_s": _int_in(0, 7 * 86400, "expected 0 to 604800 seconds"),
    "outbound_backoff_base_ms": _int_in(1, 3_600_000, "expected 1 to 3600000 ms"),
    "outbound_backoff_cap_s": _int_in(1, 86400, "expected 1 to 86400 seconds"),
    "outbound_timeout_s": _int_in(1, 300, "expected 1 to 300 seconds"),
    "outbound_disable_after_parked": _int_in(1, 10_000, "expected 1 to 10000"),
    "deliverer_pool_size": _int_in(3, 1000, _POOL_SIZE),
    "github_api_url": _http_url,
    "gitlab_api_url": _http_url,
    "public_url": _http_url,
    "runner_artifact_max_bytes": _int_in(1, 2**40, "expected 1 to 2^40 bytes"),
    "runner_workspace_keep_failed_s": _int_in(0, 86400 * 30, "expected 0 to 2592000 seconds"),
    "cache_max_bytes": _int_in(0, 2**50, "expected 0 to 2^50 bytes"),
    "cache_default_branch": _runner_name,
    "workspace_retention_days": _int_in(1, 400, "expected 1 to 400 days"),
    "artifact_sweep_interval_s": _int_in(1, 86400, "expected 1 to 86400 seconds"),
    "read_your_writes_ms": _int_in(0, 60_000, "expected 0 to 60000 ms (0 turns it off)"),
    "scheduler_batch_size": _int_in(1, 1000, "expected 1 to 1000 slots"),
}


def resolve_cipher_key(settings: Settings) -> str:
    """The key sealing webhook secrets: FLOWLEDGER_CIPHER_KEY, else `<data_dir>/cipher.key`.

    Production sets FLOWLEDGER_CIPHER_KEY (the same value in every process). Without it, a
    key is created once in the data folder, readable by its owner only. Whichever key it is,
    losing it makes every sealed webhook secret unreadable: events are kept forever.
    """
    if settings.cipher_key is not None:
        return settings.cipher_key
    path = settings.data_dir / CIPHER_KEY_FILE
    if not path.exists():
        _create_key_file(path)
    raw = path.read_text(encoding="ascii").strip()
    try:
        return _cipher_key(raw, path.parent)
    except ValueError as exc:
        raise SettingsError([f"{path}: {exc}"]) from None


def _create_key_file(path: Path) -> None:
    from adapters.platform.secrets import SecretBox  # deferred: it loads the cipher library

    path.parent.mkdir(parents=True, exist_ok=True)
    # Written aside, then linked into place: another process starting at the same moment
    # sees either no file or the whole key, and exactly one key wins.
    fd, scratch = tempfile.mkstemp(dir=path.parent, prefix=".cipher-", suffix=".tmp")  # 0600
    try:
        with os.fdopen(fd, "w", encoding="ascii") as file:
            file.write(SecretBox.generate_key() + "\n")
        try:
            os.link(scratch, path)
        except FileExistsError:
            return
    finally:
        os.unlink(scratch)
    log.warning(
        "FLOWLEDGER_CIPHER_KEY is unset: created a cipher key in %s; keep it safe, "
        "or set FLOWLEDGER_CIPHER_KEY in production",
        path,
    )
