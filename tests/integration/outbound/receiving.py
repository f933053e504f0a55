"""A local webhook receiver for the deliverer's tests and bench: records every request.

It plays a Standard Webhooks consumer
(https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md):
any 2xx is success, anything else a failure to retry. Per path it can refuse the first try of
each message, refuse every other request, or refuse everything.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class Receiver:
    port: int = 0
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    counts: dict[str, int] = field(default_factory=dict)
    seen: set[tuple[str, str]] = field(default_factory=set)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def status_for(self, path: str, message_id: str) -> int:
        """`/down…` always 503; `/flaky-first…` 500 on each message's first try; `/half…`
        503 on every other request; anything else 204."""
        with self.lock:
            n = self.counts[path] = self.counts.get(path, 0) + 1
            first = (path, message_id) not in self.seen
            self.seen.add((path, message_id))
        if path.startswith("/down"):
            return 503
        if path.startswith("/flaky-first") and first:
            return 500
        if path.startswith("/half") and n % 2 == 0:
            return 503
        return 204

    def delivered(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.path == path and 200 <= r.status < 300]

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.path == path]


@contextlib.contextmanager
def receiving() -> Iterator[Receiver]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status = receiver.status_for(self.path, headers.get("webhook-id", ""))
            with receiver.lock:
                receiver.requests.append(Received(self.path, headers, body, status))
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, name="receiver", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
