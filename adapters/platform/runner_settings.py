"""The rules of the settings of runners and the work they leave: steps, logs, workspaces,
artifacts and caches."""

from __future__ import annotations

import re
from pathlib import Path

from adapters.platform.setting_values import Parse, folder, int_in, short_name


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


RUNNER_SETTINGS: dict[str, Parse] = {
    "runner_name": short_name,
    "runner_labels": _labels,
    "runner_concurrency": int_in(1, 1000, "expected 1 to 1000 steps at once"),
    "runner_heartbeat_interval_s": int_in(1, 3600, "expected 1 to 3600 seconds"),
    "runner_lost_after_s": int_in(2, 86400, "expected 2 to 86400 seconds"),
    "queue_timeout_s": int_in(0, 86400, "expected 0 to 86400 seconds"),
    "runner_kill_grace_s": int_in(0, 3600, "expected 0 to 3600 seconds"),
    "runner_shutdown_grace_s": int_in(0, 86400, "expected 0 to 86400 seconds"),
    "runner_log_chunk_bytes": int_in(1024, 65536, "expected 1024 to 65536 bytes"),
    "runner_log_step_bytes": int_in(1024, 2**31 - 1, "expected at least 1024 bytes"),
    "runner_work_dir": folder,
    "runner_masked_env": _env_names,
    "runner_give_up_after_s": int_in(1, 86400 * 7, "expected 1 to 604800 seconds"),
    "runner_artifact_max_bytes": int_in(1, 2**40, "expected 1 to 2^40 bytes"),
    "runner_workspace_keep_failed_s": int_in(0, 86400 * 30, "expected 0 to 2592000 seconds"),
    "cache_max_bytes": int_in(0, 2**50, "expected 0 to 2^50 bytes"),
    "cache_default_branch": short_name,
    "workspace_retention_days": int_in(1, 400, "expected 1 to 400 days"),
    "artifact_sweep_interval_s": int_in(1, 86400, "expected 1 to 86400 seconds"),
    "runner_mirror_max_age_s": int_in(60, 86400 * 400, "expected 60 to 34560000 seconds"),
    "runner_mirror_max_bytes": int_in(0, 2**50, "expected 0 to 2^50 bytes"),
    "runner_mirror_prune_every_s": int_in(1, 86400, "expected 1 to 86400 seconds"),
}
