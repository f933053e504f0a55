"""How the runner bench states its figures."""

from __future__ import annotations

import argparse
import os
import statistics


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(
    args: argparse.Namespace,
    runs: int,
    seconds: float,
    phases: dict[str, dict[str, list[float]]],
    spawn: list[float],
    commands: list[float],
    burst: tuple[list[str], float] | None,
) -> None:
    b50, b99 = percentile(spawn, 0.5), percentile(spawn, 0.99)
    print(
        f"{args.runners} runners x concurrency {args.concurrency}, {runs} runs of `true` per "
        f"phase, {args.clients or args.runners * args.concurrency} closed-loop clients; "
        f"{os.cpu_count()} CPUs"
    )
    print(f"runs/s (saturated, closed loop)    {runs / seconds:8.1f}")
    if burst is not None:
        print(f"runs/s (all {len(burst[0])} requested at once)  {len(burst[0]) / burst[1]:8.1f}")
    for phase, legs in phases.items():
        overhead = legs["total"]
        a50, a99 = percentile(overhead, 0.5), percentile(overhead, 0.99)
        print(f"-- {phase}")
        print(
            f"(a) requested -> step started  p50 {a50:7.1f} ms   p99 {a99:7.1f} ms   "
            f"(mean {statistics.fmean(overhead):.1f}, n={len(overhead)})"
        )
        for leg, what in (
            ("dispatched", "requested -> dispatched"),
            ("published", "dispatched -> published"),
            ("runner", "published -> started"),
        ):
            print(
                f"    {what:<27}p50 {percentile(legs[leg], 0.5):7.1f} ms   "
                f"p99 {percentile(legs[leg], 0.99):7.1f} ms"
            )
        print(f"a/b                             p50 {a50 / b50:7.1f} x    p99 {a99 / b99:7.1f} x")
        print(
            f"targets: p50 < 50 ms: {'met' if a50 < 50 else 'NOT met'}; "
            f"p99 < 250 ms: {'met' if a99 < 250 else 'NOT met'}"
        )
    print("--")
    print(
        f"(b) spawn `bash -e` directly    p50 {b50:7.1f} ms   p99 {b99:7.1f} ms   (n={len(spawn)})"
    )
    print(
        f"(c) one API command round trip p50 {percentile(commands, 0.5):7.1f} ms   "
        f"p99 {percentile(commands, 0.99):7.1f} ms   (POST /api/v1/projects, alone)"
    )


def report_cpu(cpu: dict[str, float]) -> None:
    print(f"(f) PostgreSQL transactions per run, saturated {cpu.pop('transactions'):7.1f}")
    runners = sum(ms for role, ms in cpu.items() if role.startswith("runner"))
    parts = [f"{role} {ms:.1f}" for role, ms in cpu.items() if not role.startswith("runner")]
    print(
        f"(e) CPU per run, saturated      {sum(cpu.values()):7.1f} ms: "
        f"{', '.join(parts)}, runners {runners:.1f} (ms)"
    )


def report_checkout(
    files: int,
    recorded: list[float],
    shallow: list[float],
    full: list[float],
    cold: tuple[list[float], list[float]],
) -> None:
    c50, c99 = percentile(recorded, 0.5), percentile(recorded, 0.99)
    print(f"-- checkout of a local repository ({files} files, file://)")
    print(f"step checkout, warm mirror      p50 {c50:7.1f} ms   p99 {c99:7.1f} ms   "
          f"(n={len(recorded)})")  # fmt: skip
    for what, times in (("(d) git clone --depth 1", shallow), ("(d) git clone (full)", full)):
        b50, b99 = percentile(times, 0.5), percentile(times, 0.99)
        print(f"{what:<31} p50 {b50:7.1f} ms   p99 {b99:7.1f} ms   "
              f"checkout/clone p50 {c50 / b50:4.2f} x  p99 {c99 / b99:4.2f} x")  # fmt: skip
    steps, clones = cold
    k50, g50 = percentile(steps, 0.5), percentile(clones, 0.5)
    print(f"step checkout, cold mirror      p50 {k50:7.1f} ms   max {max(steps):7.1f} ms   "
          f"(n={len(steps)})")  # fmt: skip
    print(f"(d) git clone --depth 1, same   p50 {g50:7.1f} ms   max {max(clones):7.1f} ms   "
          f"checkout/clone p50 {k50 / g50:4.2f} x  (interleaved, one fresh copy each)")  # fmt: skip
