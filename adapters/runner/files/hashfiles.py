"""A cache key template evaluated in a workspace: `${{ hashFiles('uv.lock') }}` to a digest.

As GitHub Actions' hashFiles: the sha256 of the sha256 of each matched file, in path order;
"" when nothing matches. Files are read in blocks, never whole.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from adapters.runner.files.packing import matched
from domain.cache_keys import HashFiles, parse_key

BLOCK = 1024 * 1024


def evaluate_key(template: str, root: Path) -> str:
    """The key the template names for the workspace at `root`."""
    return "".join(
        part if isinstance(part, str) else hash_files(part, root)
        for part in parse_key(template, "cache.key")
    )


def hash_files(call: HashFiles, root: Path) -> str:
    files = [p for p in matched(root, call.globs) if p.is_file()]
    if not files:
        return ""
    total = hashlib.sha256()
    for path in files:
        one = hashlib.sha256()
        with path.open("rb") as file:
            while block := file.read(BLOCK):
                one.update(block)
        total.update(one.digest())
    return total.hexdigest()
