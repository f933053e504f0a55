"""A local Jenkins that speaks the documented endpoints a jenkins step uses, strictly.

Implemented from Jenkins' "Remote Access API" (https://www.jenkins.io/doc/book/using/
remote-access-api/: `POST /job/<name>/build` and `/buildWithParameters` answering 201 with the
queue item in `Location`, `<queue item>/api/json` with `cancelled`, `why` and
`executable.number`/`url`, `/job/<name>/<n>/api/json` with `building` and `result`,
`/job/<name>/<n>/logText/progressiveText?start=N` with `X-Text-Size` and `X-More-Data`,
`POST /job/<name>/<n>/stop`, `POST /queue/cancelItem?id=N`) and its CSRF protection page
(https://www.jenkins.io/doc/book/security/csrf-protection/: `GET /crumbIssuer/api/json`
answers `crumb` and `crumbRequestField`; the crumb is only good with the web session cookie it
was issued in; a POST without both is 403). Authentication: HTTP Basic user and API token,
401 otherwise (as Jenkins answers a wrong token). Folders nest as `/job/<folder>/job/<name>`.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass
class JobScript:
    """What one job does when built: its console lines, then its result."""

    lines: list[str]
    result: str = "SUCCESS"
    queue_polls: int = 1
    """How many reads of the queue item still say it waits for an executor."""
    cancelled_in_queue: bool = False
    hold: bool = False
    """Keeps building (console says so) until someone stops it."""


@dataclass
class Build:
    job: str
    number: int
    script: JobScript
    shown: int = 0
    """Console lines given out so far: each read reveals one more."""
    result: str | None = None
    stopped: bool = False


@dataclass
class QueueEntry:
    job: str
    polls: int = 0
    number: int | None = None
    cancelled: bool = False


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeJenkins:
    user: str
    token: str
    jobs: dict[str, JobScript] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    builds: dict[int, Build] = field(default_factory=dict)
    queue: dict[int, QueueEntry] = field(default_factory=dict)
    sessions: dict[str, str] = field(default_factory=dict)
    """JSESSIONID -> the crumb issued in it."""
    url: str = ""
    next_number: int = 41
    fail_next: int = 0
    reject_crumbs: bool = False
    """As if each crumb's session had expired: every POST is refused 403."""
    """Answer this many of the next requests 503 (Jenkins restarting)."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def requests(self, method: str | None = None) -> list[Seen]:
        return [s for s in self.seen if method is None or s.method == method]


class _Handler(BaseHTTPRequestHandler):
    jenkins: FakeJenkins
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        jenkins = self.jenkins
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        seen = Seen(method, parts.path, parse_qs(parts.query), dict(self.headers.items()), body)
        with jenkins.lock:
            jenkins.seen.append(seen)
            if jenkins.fail_next > 0:
                jenkins.fail_next -= 1
                return self._send(503, b"Jenkins is getting ready to work", {})
            if not self._authenticated():
                return self._send(401, b"Invalid password/token for user", {})
            if method == "POST" and not self._crumb_ok():
                return self._send(403, b"No valid crumb was included in the request", {})
            self._route(method, parts.path, seen)
        return None

    def _authenticated(self) -> bool:
        given = self.headers.get("Authorization", "")
        want = base64.b64encode(f"{self.jenkins.user}:{self.jenkins.token}".encode()).decode()
        return given == f"Basic {want}"

    def _crumb_ok(self) -> bool:
        cookies = dict(
            c.strip().split("=", 1) for c in self.headers.get("Cookie", "").split(";") if "=" in c
        )
        crumb = self.jenkins.sessions.get(cookies.get("JSESSIONID", ""))
        return (
            not self.jenkins.reject_crumbs
            and crumb is not None
            and self.headers.get("Jenkins-Crumb") == crumb
        )

    def _route(self, method: str, path: str, seen: Seen) -> None:
        jenkins = self.jenkins
        if method == "GET" and path == "/crumbIssuer/api/json":
            session, crumb = secrets.token_hex(8), secrets.token_hex(16)
            jenkins.sessions[session] = crumb
            body = {"_class": "hudson.security.csrf.DefaultCrumbIssuer", "crumb": crumb,
                    "crumbRequestField": "Jenkins-Crumb"}  # fmt: skip
            return self._json(body, {"Set-Cookie": f"JSESSIONID={session}; Path=/; HttpOnly"})
        if path.startswith("/queue/item/"):
            return self._queue_item(int(path.split("/")[3]))
        if method == "POST" and path == "/queue/cancelItem":
            jenkins.queue[int(seen.query["id"][0])].cancelled = True
            return self._send(302, b"", {"Location": f"{jenkins.url}/queue/"})
        job, rest = _job_of(path)
        if job is None or job not in jenkins.jobs:
            return self._send(404, b"Not Found", {})
        if method == "POST" and rest in ("build", "buildWithParameters"):
            item = len(jenkins.queue) + 1000
            cancelled = jenkins.jobs[job].cancelled_in_queue
            jenkins.queue[item] = QueueEntry(job, cancelled=cancelled)
            return self._send(201, b"", {"Location": f"{jenkins.url}/queue/item/{item}/"})
        number, _, tail = rest.partition("/")
        build = jenkins.builds.get(int(number)) if number.isdigit() else None
        if build is None or build.job != job:
            return self._send(404, b"Not Found", {})
        if method == "GET" and tail == "api/json":
            state = {"building": build.result is None, "result": build.result,
                     "number": build.number, "url": _build_url(jenkins, build)}  # fmt: skip
            return self._json(state, {})
        if method == "GET" and tail == "logText/progressiveText":
            return self._console(build, int(seen.query.get("start", ["0"])[0]))
        if method == "POST" and tail == "stop":
            build.stopped = True
            return self._send(302, b"", {"Location": _build_url(jenkins, build)})
        return self._send(404, b"Not Found", {})

    def _queue_item(self, item: int) -> None:
        jenkins = self.jenkins
        entry = jenkins.queue[item]
        script = jenkins.jobs[entry.job]
        body: dict[str, Any] = {"id": item, "cancelled": False, "executable": None,
                                "why": "Waiting for next available executor"}  # fmt: skip
        if entry.cancelled:
            body = {"id": item, "cancelled": True, "executable": None, "why": None}
        elif entry.polls >= script.queue_polls:
            if entry.number is None:
                entry.number = jenkins.next_number
                jenkins.next_number += 1
                jenkins.builds[entry.number] = Build(entry.job, entry.number, script)
            url = _build_url(jenkins, jenkins.builds[entry.number])
            body = {"id": item, "cancelled": False, "why": None,
                    "executable": {"number": entry.number, "url": url}}  # fmt: skip
        entry.polls += 1
        self._json(body, {})

    def _console(self, build: Build, start: int) -> None:
        script = build.script
        if build.result is None:
            if build.stopped:
                build.shown = len(script.lines)
                build.result = "ABORTED"
            elif build.shown < len(script.lines):
                build.shown += 1
            elif not script.hold:
                build.result = script.result
        lines = script.lines[: build.shown]
        if build.result is not None:
            lines = [*lines, "Aborted by flowledger" if build.stopped else "",
                     f"Finished: {build.result}"]  # fmt: skip
            lines = [line for line in lines if line]
        text = "".join(f"{line}\n" for line in lines).encode()
        headers = {"X-Text-Size": str(len(text)), "Content-Type": "text/plain;charset=UTF-8"}
        if build.result is None:
            headers["X-More-Data"] = "true"
        self._send(200, text[start:], headers)

    def _json(self, body: dict[str, Any], headers: dict[str, str]) -> None:
        self._send(200, json.dumps(body).encode(), {**headers, "Content-Type": "application/json"})

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _job_of(path: str) -> tuple[str | None, str]:
    """`/job/a/job/b/7/api/json` -> ("a/b", "7/api/json")."""
    parts = path.strip("/").split("/")
    names: list[str] = []
    while len(parts) >= 2 and parts[0] == "job":
        names.append(unquote(parts[1]))
        parts = parts[2:]
    return ("/".join(names) or None), "/".join(parts)


def _build_url(jenkins: FakeJenkins, build: Build) -> str:
    return f"{jenkins.url}/{'/'.join(f'job/{p}' for p in build.job.split('/'))}/{build.number}/"


class serving:  # a context manager, named like a function
    """`with serving(FakeJenkins(...)) as jenkins:` on 127.0.0.1, a free port."""

    def __init__(self, jenkins: FakeJenkins) -> None:
        handler = type("Handler", (_Handler,), {"jenkins": jenkins})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.jenkins = jenkins
        jenkins.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeJenkins:
        self.thread.start()
        return self.jenkins

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()
