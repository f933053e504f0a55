"""Secrets: what masking costs the runner's log path.

    uv run python bench/secrets.py [--megabytes 64] [--secrets 20] [--rounds 9] [--seed 1]

(a) log throughput: the same generated build log (one line in 200 prints a secret) shipped by
    the runner's log path with no secrets, and with `--secrets` secrets masked (every value in
    its plain, base64, URL-encoded and JSON-escaped forms and each line of a multi-line one),
    alternated `--rounds` times in the same run; medians in MB/s. Target: masked >= 0.8x plain.
(b) the runner's own work: the same log fed to the log shipper from memory in the runner's
    read size (`READ_BYTES`; no step process, so no waiting on a pipe), without and with
    masking; medians in MB/s.
(c) context: the masker alone over the whole log fed in pieces of that size, in MB/s, and its
    set-up for one attempt (compiling the forms of `--secrets` secrets), which (a) leaves out:
    it happens once, before the step starts; and for a set compiled before (a retry, the next
    step with the same secrets), which the runner keeps compiled a while.
(d) history export: a run of `--export-events` events whose actor is a person (sealed under
    their data key) against the same run without personal fields, exported as the audit
    routes do, alternated `--export-repeat` times (bench/erasure.py, on the embedded
    PostgreSQL or FLOWLEDGER_DATABASE_URL's server). Target: sealed >= 0.7x plain.
    `--export-events 0` skips it.
"""

# ruff: noqa: E402  (the imports after the sys.path fix below)
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":
    # As a script, bench/ leads sys.path and this file would shadow the `commands` package.
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
    sys.path.insert(0, str(ROOT))

from bench._figures import verdict
from bench._log_masking import TARGET_RATIO
from bench._log_masking import run as run_log_masking


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=64)
    parser.add_argument("--secrets", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--export-events", type=int, default=20_000)
    parser.add_argument("--export-repeat", type=int, default=7)
    args = parser.parse_args()
    logs = run_log_masking(args.megabytes, args.secrets, args.rounds, args.seed)
    print(f"(a) log throughput, {logs['bytes'] / 1e6:.1f} MB, {args.secrets} secrets")
    print(f"    no masking      {logs['plain_mb_s']:8.1f} MB/s")
    print(f"    masked          {logs['masked_mb_s']:8.1f} MB/s  ({logs['masks']} values masked)")
    print(
        f"    ratio           {logs['ratio']:8.2f}x  target >= {TARGET_RATIO}x: "
        f"{verdict(logs['met'])}"
    )
    print(f"    runner CPU      {logs['cpu_ratio']:8.2f}x  (CPU seconds, plain / masked: steadier "
          "than wall time on a shared machine)")  # fmt: skip
    print(f"    runner CPU      {logs['plain_cpu_ms_per_mb']:8.2f} ms/MB plain, "
          f"{logs['masked_cpu_ms_per_mb']:.2f} ms/MB masked")  # fmt: skip
    memory_ratio = logs["memory_masked_mb_s"] / logs["memory_plain_mb_s"]
    print("(b) shipper alone, fed from memory")
    print(f"    no masking      {logs['memory_plain_mb_s']:8.1f} MB/s")
    print(f"    masked          {logs['memory_masked_mb_s']:8.1f} MB/s  ({memory_ratio:.2f}x)")
    print(f"(c) masker alone    {logs['masker_alone_mb_s']:8.1f} MB/s")
    print(f"    set-up          {logs['setup_ms']:8.1f} ms per attempt, "
          f"{logs['setup_again_ms']:.1f} ms for a set compiled before")  # fmt: skip
    if args.export_events:
        print("(d) ", end="")
        export_history(args.export_events, args.export_repeat)


def export_history(events: int, repeat: int) -> None:
    import asyncio

    from bench import erasure
    from bench._servers import bench_servers

    with bench_servers() as (base, urls, _env):
        figures = asyncio.run(erasure.measure(events, repeat, base, urls.database_url))
    erasure.report(events, repeat, figures)


if __name__ == "__main__":
    main()
