"""Small helpers shared by tests."""

import os
from pathlib import Path
from uuid import uuid4


def unique_id(prefix: str = "") -> str:
    """`prefix` plus a random hex suffix, so tests sharing one database never collide."""
    return f"{prefix}{uuid4().hex}"


WEBHOOK_FIXTURES = Path(
    os.environ.get(
        "FLOWLEDGER_WEBHOOK_FIXTURES",
        Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "webhooks",
    )
)
"""The genuine provider payloads in shared/, beside the checkout (as CI places it)."""
