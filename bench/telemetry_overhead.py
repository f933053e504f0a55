"""Telemetry's CPU per request, in-process: the request middleware, a command's span and an
append's span, as the API runs them, with tracing off (the baseline) and on at several ratios.

    uv run python bench/telemetry_overhead.py [--requests 20000] [--rounds 3]

Each mode runs in a fresh process (a process has one tracer provider): `off` is tracing and
metrics off, as bench/commands.py's untraced side; the others install the SDK provider the API
installs (parent-based, trace-id ratio) with a batch processor into an in-memory exporter, and
metrics on. No I/O and no handler work is done, so the figures are telemetry's own cost; rounds
alternate the order of the modes. bench/commands.py --telemetry gives the end-to-end ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
    sys.path.insert(0, str(ROOT))

MODES = ("off", "0.1", "0.0", "1.0")
LABELS = {"off": "tracing + metrics off", "0.1": "10% sampled", "0.0": "none sampled"}
LABELS["1.0"] = "all sampled"


class ReportStepStatus:
    """Stands for a command: only its name is used."""


def measure(mode: str, requests: int) -> float:
    """CPU microseconds per request in this process, after a warm-up."""
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from adapters.telemetry.http import request_telemetry
    from adapters.telemetry.observer import TelemetryObserver
    from adapters.telemetry.provider import install_tracer_provider
    from adapters.telemetry.tracing import current_traceparent, sampled_provider, span
    from commands.context import CommandContext, Principal

    traced = mode != "off"
    if traced:
        provider = sampled_provider("bench", float(mode))
        exporter = InMemorySpanExporter()
        provider.add_span_processor(BatchSpanProcessor(exporter))
        install_tracer_provider(provider)
    observer = TelemetryObserver()
    caller = Principal(id="k", name="bench", project_id=None, scopes=frozenset({"admin"}))

    async def route(scope: dict, receive: object, send: object) -> None:
        context = CommandContext(
            principal=caller,
            at=datetime.now(UTC),
            correlation_id="c",
            traceparent=current_traceparent(),
        )
        with (
            observer.observe(ReportStepStatus(), context),
            span("event_store.append", attributes={"flowledger.events": 1}),
        ):
            pass
        await send({"type": "http.response.start", "status": 202, "headers": []})  # type: ignore[operator]

    app = request_telemetry(metrics=traced, tracing=traced)(route)  # type: ignore[arg-type]
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/pipeline-runs/r/status",
        "path_template": "/api/v1/pipeline-runs/{run_id}/status",
        "headers": [(b"x-api-key", b"k")],
    }

    async def send(message: dict) -> None:
        return None

    async def receive() -> dict:
        return {"type": "http.request", "body": b""}

    async def drive(n: int) -> None:
        for _ in range(n):
            await app(dict(scope), receive, send)  # type: ignore[arg-type]

    asyncio.run(drive(2000))
    started = time.process_time()
    asyncio.run(drive(requests))
    spent = time.process_time() - started
    if traced:
        provider.shutdown()
        if float(mode) > 0:
            assert exporter.get_finished_spans(), "sampled spans were exported"
    return spent / requests * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mode", choices=MODES, help=argparse.SUPPRESS)  # one child's mode
    args = parser.parse_args()
    if args.mode:
        print(measure(args.mode, args.requests))
        return
    figures: dict[str, list[float]] = {mode: [] for mode in MODES}
    for round_ in range(args.rounds):
        for mode in MODES[:: -1 if round_ % 2 else 1]:
            child = subprocess.run(
                [sys.executable, __file__, "--mode", mode, "--requests", str(args.requests)],
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
                env={**os.environ, "OTEL_SDK_DISABLED": "false"},
            )
            figures[mode].append(float(child.stdout.strip().splitlines()[-1]))
    base = min(figures["off"])
    print(
        f"{args.requests:,} requests x {args.rounds} rounds per mode; best round, CPU per request"
    )
    for mode in MODES:
        best = min(figures[mode])
        print(
            f"{LABELS[mode]:<24}{best:7.1f} us   over off: {best - base:+6.1f} us   "
            f"rounds: {', '.join(f'{f:.1f}' for f in figures[mode])}"
        )


if __name__ == "__main__":
    main()
