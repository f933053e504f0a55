"""The telemetry side of bench/commands.py (--telemetry): what each variant turns on, and an
OTLP endpoint that counts what it is sent."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

TELEMETRY_VARIANTS = ("traced", "flowledger")
TELEMETRY_PARTS = {  # what (a) turns on, by --telemetry
    "both": {"FLOWLEDGER_METRICS_ENABLED": "true", "FLOWLEDGER_TRACES_EXPORTER": "otlp"},
    "metrics": {"FLOWLEDGER_METRICS_ENABLED": "true", "FLOWLEDGER_TRACES_EXPORTER": "none"},
    "tracing": {"FLOWLEDGER_METRICS_ENABLED": "false", "FLOWLEDGER_TRACES_EXPORTER": "otlp"},
    "neither": {"FLOWLEDGER_METRICS_ENABLED": "false", "FLOWLEDGER_TRACES_EXPORTER": "none"},
}
TELEMETRY_LABELS = {
    "both": "flowledger, traced 10% + metrics",
    "metrics": "flowledger, metrics only",
    "tracing": "flowledger, traced 10% only",
    "neither": "flowledger, the same again",
}


def variant_env(variant: str, sink: str | None, parts: str = "both") -> dict[str, str]:
    """The telemetry settings of each variant; the plain comparison keeps the defaults."""
    if variant == "traced":
        return {
            "FLOWLEDGER_OTLP_ENDPOINT": f"{sink}/v1/traces",
            "FLOWLEDGER_TRACE_SAMPLE_RATIO": "0.1",
            **TELEMETRY_PARTS[parts],
        }
    if sink is not None:  # the untraced side of --telemetry
        return {"FLOWLEDGER_METRICS_ENABLED": "false", "FLOWLEDGER_TRACES_EXPORTER": "none"}
    return {}


@contextlib.contextmanager
def otlp_sink() -> Iterator[tuple[str, list[int]]]:
    """An endpoint that takes OTLP exports and counts them: a collector's cheapest stand-in."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received = [0, 0]  # exports, bytes

    class Sink(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            size = int(self.headers.get("content-length", 0))
            self.rfile.read(size)
            received[0] += 1
            received[1] += size
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
