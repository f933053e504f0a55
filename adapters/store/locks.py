"""Advisory-lock keys: one stable 64-bit number per named job, shared by every process.

Here rather than beside one of its users: projections and the relay both take these locks,
and neither may import the other.
"""

from __future__ import annotations

import hashlib


def lock_key(purpose: str, name: str) -> int:
    """A stable signed 64-bit advisory lock key, e.g. for `projection:runs` or `relay:main`."""
    digest = hashlib.sha256(f"{purpose}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)
