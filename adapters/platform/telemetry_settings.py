"""The rules of the settings of what a process tells about itself: logs, traces, metrics."""

from __future__ import annotations

from pathlib import Path

from adapters.platform.setting_values import Parse, flag, http_url, int_in, one_of, port

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _log_level(raw: str, _cwd: Path) -> str:
    if raw.upper() not in LOG_LEVELS:
        raise ValueError(f"expected one of {', '.join(LOG_LEVELS)}")
    return raw.upper()


def _ratio(raw: str, _cwd: Path) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise ValueError("expected a number from 0 to 1, e.g. 0.1 to record one trace in ten")
    return value


TELEMETRY_SETTINGS: dict[str, Parse] = {
    "log_level": _log_level,
    "log_format": one_of("auto", "json", "console", "text"),
    "traces_exporter": one_of("none", "console", "otlp"),
    "otlp_endpoint": http_url,
    "trace_sample_ratio": _ratio,
    "metrics_enabled": flag,
    "probe_port": port,
    "ready_max_lag_s": int_in(0, 86400, "expected 0 to 86400 seconds"),
}
