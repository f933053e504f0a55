"""Every benchmark still starts: run by hand, one broken by a refactor would go unnoticed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
SCRIPTS = sorted(p.name for p in BENCH.glob("*.py") if not p.name.startswith("_"))


def test_every_benchmark_is_found() -> None:
    assert {"append.py", "runner.py", "projection.py"} <= set(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_benchmark_imports_and_explains_itself(script: str) -> None:
    shown = subprocess.run(
        [sys.executable, str(BENCH / script), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=BENCH.parent,
    )
    assert shown.returncode == 0, shown.stderr
    assert "usage:" in shown.stdout
