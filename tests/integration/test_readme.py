"""The README's Python examples run against a real database, so they cannot go stale."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BLOCKS = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), flags=re.S)


def test_the_readme_has_python_examples() -> None:
    assert BLOCKS


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.splitlines()[0][:40])
def test_a_readme_example_runs(block: str, fresh_database_url: str) -> None:
    # A database of its own: the examples append free-form events no view expects.
    database_url = fresh_database_url
    done = subprocess.run(
        [sys.executable, "-c", block],
        cwd=REPO,
        env={**os.environ, "FLOWLEDGER_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
    )

    # The examples check themselves with assert; a failed one exits non-zero.
    assert done.returncode == 0, done.stderr
