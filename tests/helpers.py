"""Small helpers shared by tests."""

from pathlib import Path
from uuid import uuid4


def unique_id(prefix: str = "") -> str:
    """`prefix` plus a random hex suffix, so tests sharing one database never collide."""
    return f"{prefix}{uuid4().hex}"


WEBHOOK_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "webhooks"
"""The genuine provider payloads; their provenance is in that folder's MANIFEST.md."""
