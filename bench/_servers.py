"""The servers a benchmark runs against, and the environment of the flowledger processes it
starts over them.

Embedded PostgreSQL and NATS in a temp folder (or the servers FLOWLEDGER_DATABASE_URL /
FLOWLEDGER_NATS_URL name), removed afterwards. The environment turns rate limits off and logs
warnings only, so the figures are the system's, not the limiter's or the log's.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import msgspec

from adapters.platform.embedded import ServerUrls, embedded_servers
from adapters.platform.secrets import SecretBox
from adapters.platform.settings import Settings, load_settings


@contextlib.contextmanager
def bench_servers() -> Iterator[tuple[Settings, ServerUrls, dict[str, str]]]:
    """(settings, the servers' URLs, the environment for flowledger processes)."""
    data_dir = Path(tempfile.mkdtemp(prefix="flowledger-bench-"))
    try:
        base = load_settings(os.environ, cwd=data_dir)  # an empty cwd: no .env files
        cipher_key = base.cipher_key or SecretBox.generate_key()
        base = msgspec.structs.replace(base, data_dir=data_dir, cipher_key=cipher_key)
        with embedded_servers(base, log=lambda _: None) as urls:
            yield (
                base,
                urls,
                {
                    **os.environ,
                    "FLOWLEDGER_NATS_URL": urls.nats_url,
                    "FLOWLEDGER_DATA_DIR": str(data_dir),
                    "FLOWLEDGER_CIPHER_KEY": cipher_key,
                    "FLOWLEDGER_RATE_LIMIT_PER_KEY": "0",
                    "FLOWLEDGER_RATE_LIMIT_PER_ADDRESS": "0",
                    "FLOWLEDGER_LOG_LEVEL": "WARNING",
                },
            )
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
