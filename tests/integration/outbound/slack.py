"""A local Slack incoming webhook and a local SMTP server for the notification tests.

Slack, as documented at https://api.slack.com/messaging/webhooks (sending messages, handling
errors) and https://api.slack.com/reference/block-kit/blocks (header, section, context):
a POST of `application/json`; 200 with the body `ok` when accepted; 400 `invalid_payload`
for a body that is not JSON or whose blocks break Block Kit's rules, 400 `no_text` when
neither `text` nor `blocks` is given; 404 `no_service` for an unknown path. Blocks are
checked as the reference says: at most 50; a header's text plain_text of at most 150
characters; a section's text at most 3000; a context's elements at most 10.

SMTP: aiosmtpd's controller (a real RFC 5321 server) on 127.0.0.1, keeping each message, with
AUTH LOGIN/PLAIN checked against one user (allowed without TLS on the loopback).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword

HOOK_PATH = "/services/TFLOWLEDGER/BRECEIVER/local-test-receiver"
"""Shaped as a Slack incoming-webhook path (services/<team>/<channel hook>/<token>)."""


@dataclass
class Slack:
    port: int = 0
    accepted: list[dict[str, Any]] = field(default_factory=list)
    refused: list[tuple[str, bytes]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    failing: int = 0
    """Answer this many next requests 500 (Slack's own trouble), then as documented."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{HOOK_PATH}"


def _block_problem(block: Any) -> str | None:
    if not isinstance(block, dict) or "type" not in block:
        return "a block without a type"
    text = block.get("text")
    match block["type"]:
        case "header":
            if not isinstance(text, dict) or text.get("type") != "plain_text":
                return "a header's text must be plain_text"
            if not 1 <= len(text.get("text", "")) <= 150:
                return "a header's text is 1 to 150 characters"
        case "section":
            if not isinstance(text, dict) or text.get("type") not in ("plain_text", "mrkdwn"):
                return "a section's text must be a text object"
            if not 1 <= len(text.get("text", "")) <= 3000:
                return "a section's text is 1 to 3000 characters"
        case "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= 10:
                return "a context has 1 to 10 elements"
        case _:
            return f"unexpected block type {block['type']}"
    return None


def check(body: bytes) -> tuple[int, str]:
    try:
        payload = json.loads(body)
    except ValueError:
        return 400, "invalid_payload"
    if not isinstance(payload, dict):
        return 400, "invalid_payload"
    if not payload.get("text") and not payload.get("blocks"):
        return 400, "no_text"
    blocks = payload.get("blocks", [])
    if not isinstance(blocks, list) or len(blocks) > 50:
        return 400, "invalid_payload"
    if any(_block_problem(b) for b in blocks):
        return 400, "invalid_payload"
    return 200, "ok"


@contextlib.contextmanager
def slack() -> Iterator[Slack]:
    hook = Slack()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            with hook.lock:
                hook.headers.append(headers)
                failing = hook.failing > 0
                hook.failing -= failing
            if failing:
                status, answer = 500, "internal_error"
            elif self.path != HOOK_PATH:
                status, answer = 404, "no_service"
            elif headers.get("content-type", "").split(";")[0] != "application/json":
                status, answer = 400, "invalid_payload"
            else:
                status, answer = check(body)
            with hook.lock:
                if status == 200:
                    hook.accepted.append(json.loads(body))
                else:
                    hook.refused.append((answer, body))
            data = answer.encode()
            self.send_response(status)
            self.send_header("content-type", "text/plain")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    hook.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, name="slack", daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Mailbox:
    port: int = 0
    messages: list[tuple[Envelope, EmailMessage]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Envelope) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((envelope, parsed))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def smtp_server(user: str, password: str) -> Iterator[Mailbox]:
    box = Mailbox(port=_free_port())

    def authenticate(_server: Any, _session: Any, _envelope: Any, mechanism: str, data: Any):
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            user.encode(),
            password.encode(),
        )
        if ok:
            box.logins.append(user)
        return AuthResult(success=ok)

    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=box.port,
        authenticator=authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield box
    finally:
        controller.stop()
