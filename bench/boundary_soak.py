"""Boundary soak: the boundary's property test, with many more examples a door.

    uv run python bench/boundary_soak.py [--examples 1000] [--seed N]

Runs tests/integration/boundary (fuzzed commands and signed webhook deliveries through the
real HTTP API on the embedded servers, or FLOWLEDGER_DATABASE_URL / FLOWLEDGER_NATS_URL when
set) with `--examples` examples for each door instead of the suite's few dozen. It passes
when every answer was a 2xx or a 4xx problem that wrote nothing, and the webhook intake and
every read model took every event written. Prints pytest's summary and the time it took.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1000, help="examples per door")
    parser.add_argument("--seed", type=int, default=None, help="hypothesis seed, to replay")
    args = parser.parse_args()
    env = {**os.environ, "FLOWLEDGER_BOUNDARY_EXAMPLES": str(args.examples)}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-o",
        "timeout=0",
        "-W",
        "ignore::hypothesis.errors.HypothesisWarning",
        "tests/integration/boundary",
    ]
    if args.seed is not None:
        command.append(f"--hypothesis-seed={args.seed}")
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, env=env, check=False)
    print(f"{args.examples} examples a door: {time.monotonic() - started:.0f} s")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
