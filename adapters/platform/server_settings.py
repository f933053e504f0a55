"""The rules of the settings that say where processes listen and connect, and what the API takes."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from adapters.platform.setting_values import Parse, folder, http_url, int_in, pool_size, port

_RATE_LIMIT = "expected a non-negative integer of requests per minute (0 disables the limit)"
_BYTES = "expected a positive integer number of bytes"


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


def _host(raw: str, _cwd: Path) -> str:
    if any(c.isspace() for c in raw):
        raise ValueError("expected a host name or IP address")
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


SERVER_SETTINGS: dict[str, Parse] = {
    "database_url": _database_url,
    "nats_url": _nats_url,
    "data_dir": folder,
    "host": _host,
    "port": port,
    "api_url": http_url,
    "public_url": http_url,
    "max_event_bytes": int_in(1, 2**31 - 1, _BYTES),
    "max_body_bytes": int_in(1, 2**31 - 1, _BYTES),
    "cors_origins": _cors_origins,
    "rate_limit_per_key": int_in(0, 10**9, _RATE_LIMIT),
    "rate_limit_per_address": int_in(0, 10**9, _RATE_LIMIT),
    "read_your_writes_ms": int_in(0, 60_000, "expected 0 to 60000 ms (0 turns it off)"),
    "api_pool_size": pool_size,
    "gateway_pool_size": pool_size,
    "intake_pool_size": pool_size,
    "dispatcher_pool_size": pool_size,
    "scheduler_pool_size": pool_size,
    "deliverer_pool_size": pool_size,
}
