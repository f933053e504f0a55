"""The rules of the settings of what flowledger sends: webhook deliveries, commit statuses."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

from adapters.platform.setting_values import Parse, http_url, int_in


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


OUTBOUND_SETTINGS: dict[str, Parse] = {
    "outbound_allow": _allow_list,
    "outbound_retry_for_s": int_in(0, 7 * 86400, "expected 0 to 604800 seconds"),
    "outbound_backoff_base_ms": int_in(1, 3_600_000, "expected 1 to 3600000 ms"),
    "outbound_backoff_cap_s": int_in(1, 86400, "expected 1 to 86400 seconds"),
    "outbound_timeout_s": int_in(1, 300, "expected 1 to 300 seconds"),
    "outbound_disable_after_parked": int_in(1, 10_000, "expected 1 to 10000"),
    "github_api_url": http_url,
    "gitlab_api_url": http_url,
}
