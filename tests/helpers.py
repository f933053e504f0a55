"""Small helpers shared by tests."""

from uuid import uuid4


def unique_id(prefix: str = "") -> str:
    """`prefix` plus a random hex suffix, so tests sharing one database never collide."""
    return f"{prefix}{uuid4().hex}"
