"""A local GitHub and GitLab, as far as their commit status APIs go, checking each request as
documented:

- GitHub, https://docs.github.com/en/rest/commits/statuses#create-a-commit-status:
  `POST /repos/{owner}/{repo}/statuses/{sha}`, `Accept: application/vnd.github+json`,
  `Authorization: Bearer <token>`, `X-GitHub-Api-Version: 2022-11-28`, a `User-Agent`
  (https://docs.github.com/en/rest/using-the-rest-api/getting-started-with-the-rest-api#user-agent);
  body `state` (error, failure, pending, success), `target_url`, `description`, `context`;
  answers 201 with the status, 401 for a bad token, 422 for a bad body.
- GitLab, https://docs.gitlab.com/ee/api/commits.html#set-the-pipeline-status-of-a-commit:
  `POST /api/v4/projects/:id/statuses/:sha` (`:id` the URL-encoded project path), `PRIVATE-TOKEN`
  header; body `state` (pending, running, success, failed, canceled), `ref`, `name`,
  `target_url`, `description`; answers 201, 401 for a bad token, 400 for a bad body.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

GITHUB_STATES = {"error", "failure", "pending", "success"}
GITLAB_STATES = {"pending", "running", "success", "failed", "canceled"}
_GITHUB = re.compile(r"^/repos/([^/]+)/([^/]+)/statuses/([0-9a-f]{7,64})$")
_GITLAB = re.compile(r"^/api/v4/projects/([^/]+)/statuses/([0-9a-f]{7,64})$")


@dataclass
class Status:
    host: str
    repo: str
    sha: str
    body: dict
    headers: dict[str, str]


@dataclass
class GitHosts:
    token: str
    port: int = 0
    accepted: list[Status] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)
    fail_next: int = 0
    """Answer this many of the next requests 502 (a host having trouble)."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def github_api(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def gitlab_api(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v4"

    def answer(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> int:
        with self.lock:
            if self.fail_next:
                self.fail_next -= 1
                return 502
        if method != "POST":
            return 404
        if found := _GITHUB.match(path):
            return self._github(found, headers, raw)
        if found := _GITLAB.match(path):
            return self._gitlab(found, headers, raw)
        return 404

    def _github(self, found: re.Match[str], headers: dict[str, str], raw: bytes) -> int:
        if headers.get("authorization") != f"Bearer {self.token}":
            return self._refuse(401, "Bad credentials")
        if headers.get("accept") != "application/vnd.github+json":
            return self._refuse(415, f"accept {headers.get('accept')}")
        if headers.get("x-github-api-version") != "2022-11-28":
            return self._refuse(400, "api version")
        if not headers.get("user-agent"):
            return self._refuse(403, "a User-Agent is required")
        body = json.loads(raw)
        allowed = {"state", "target_url", "description", "context"}
        if set(body) - allowed or body.get("state") not in GITHUB_STATES:
            return self._refuse(422, f"body {body}")
        repo = f"{found[1]}/{found[2]}"
        with self.lock:
            self.accepted.append(Status("github", repo, found[3], body, headers))
        return 201

    def _gitlab(self, found: re.Match[str], headers: dict[str, str], raw: bytes) -> int:
        if headers.get("private-token") != self.token:
            return self._refuse(401, "401 Unauthorized")
        body = json.loads(raw)
        allowed = {"state", "ref", "name", "context", "target_url", "description", "coverage"}
        if set(body) - allowed or body.get("state") not in GITLAB_STATES:
            return self._refuse(400, f"body {body}")
        with self.lock:
            self.accepted.append(Status("gitlab", unquote(found[1]), found[2], body, headers))
        return 201

    def _refuse(self, status: int, why: str) -> int:
        with self.lock:
            self.refused.append((status, why))
        return status


@contextlib.contextmanager
def git_hosts(token: str) -> Iterator[GitHosts]:
    hosts = GitHosts(token)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            # The raw path: GitLab's :id arrives percent-encoded and must stay one segment.
            status = hosts.answer("POST", self.path, headers, raw)
            payload = json.dumps({"state": "ok"} if status == 201 else {"message": "no"}).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *_args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    hosts.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, name="git-hosts", daemon=True)
    thread.start()
    try:
        yield hosts
    finally:
        server.shutdown()
        server.server_close()
