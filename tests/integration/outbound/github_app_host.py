"""A local GitHub, as far as a GitHub App's installation tokens and check runs go, checking each
request as documented:

- https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app:
  the JWT is RS256, signed with the App's private key (verified here with its public key),
  `iat` not in the future, `exp` at most 10 minutes after `iat`, `iss` the App id;
- https://docs.github.com/en/rest/apps/apps#create-an-installation-access-token-for-an-app:
  `POST /app/installations/{installation_id}/access_tokens` with `Authorization: Bearer <JWT>`
  answers 201 `{"token", "expires_at"}`; 401 for a JWT that does not verify, 404 for another
  installation;
- https://docs.github.com/en/rest/checks/runs: `POST /repos/{owner}/{repo}/check-runs` (`name`
  and `head_sha` required; `status` queued, in_progress or completed; `conclusion` given
  exactly when completed) answers 201 with the check run's `id`; `PATCH .../check-runs/{id}`
  answers 200; both need `Authorization: Bearer <installation token>` not yet expired;
- https://docs.github.com/en/rest/checks/runs#list-check-runs-for-a-git-reference:
  `GET /repos/{owner}/{repo}/commits/{ref}/check-runs` (`check_name`, `filter` latest or all,
  `app_id`, `per_page` at most 100, `page`) answers 200 `{"total_count", "check_runs"}`, each
  with its `id`, `head_sha`, `name`, `external_id` and `app`; a `Link` header names the next
  page.

Every request also needs `Accept: application/vnd.github+json`, `X-GitHub-Api-Version:
2022-11-28` and a `User-Agent`.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

_TOKENS = re.compile(r"^/app/installations/([^/]+)/access_tokens$")
_CREATE = re.compile(r"^/repos/([^/]+)/([^/]+)/check-runs$")
_UPDATE = re.compile(r"^/repos/([^/]+)/([^/]+)/check-runs/(\d+)$")
_LIST = re.compile(r"^/repos/([^/]+)/([^/]+)/commits/([^/]+)/check-runs$")
STATUSES = {"queued", "in_progress", "completed"}
CONCLUSIONS = {"action_required", "cancelled", "failure", "neutral", "success", "skipped",
               "stale", "timed_out"}  # fmt: skip


def rsa_key() -> tuple[str, str]:
    """(private key PEM, public key PEM) of a fresh 2048-bit RSA key, as GitHub makes them."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private.decode(), public.decode()


@dataclass
class CheckRun:
    id: int
    repo: str
    bodies: list[dict[str, Any]]
    app_id: str = ""

    def listed(self) -> dict[str, Any]:
        """As GitHub lists it (the fields a client may rely on here)."""
        first = self.bodies[0]
        return {
            "id": self.id,
            "head_sha": first["head_sha"],
            "name": first["name"],
            "external_id": first.get("external_id", ""),
            "status": self.bodies[-1]["status"],
            "app": {"id": int(self.app_id)},
        }


@dataclass
class GitHubApp:
    app_id: str
    installation_id: str
    public_key: str
    token_lifetime_s: int = 3600
    port: int = 0
    claims: list[dict[str, Any]] = field(default_factory=list)
    """The verified claims of each JWT presented."""
    tokens: dict[str, float] = field(default_factory=dict)
    check_runs: dict[int, CheckRun] = field(default_factory=dict)
    refused: list[tuple[int, str]] = field(default_factory=list)
    listed: list[dict[str, list[str]]] = field(default_factory=list)
    """The query of each listing of a commit's check runs."""
    listing_down: bool = False
    """Listings answer 503, as GitHub does when the service is unavailable."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def answer(
        self, method: str, target: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """(status, body, extra headers) of a request to `target` (path and query)."""
        path, query = urlsplit(target).path, parse_qs(urlsplit(target).query)
        if headers.get("accept") != "application/vnd.github+json":
            return (*self._refuse(415, "accept"), {})
        if headers.get("x-github-api-version") != "2022-11-28" or not headers.get("user-agent"):
            return (*self._refuse(400, "api version or user agent"), {})
        bearer = headers.get("authorization", "").removeprefix("Bearer ")
        if method == "POST" and (found := _TOKENS.match(path)):
            return (*self._exchange(found[1], bearer), {})
        with self.lock:
            expires = self.tokens.get(bearer)
        if expires is None or expires <= time.time():
            return (*self._refuse(401, "Bad credentials"), {})
        if method == "GET" and self.listing_down:
            return (*self._refuse(503, "Service unavailable"), {})
        if method == "GET" and (found := _LIST.match(path)):
            return self._list(f"{found[1]}/{found[2]}", found[3], query)
        if method == "GET":
            return (*self._refuse(404, "Not Found"), {})
        return (*self._write(method, path, json.loads(raw)), {})

    def _list(
        self, repo: str, ref: str, query: dict[str, list[str]]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        per_page, page = int(query.get("per_page", ["30"])[0]), int(query.get("page", ["1"])[0])
        if not 1 <= per_page <= 100 or page < 1:
            return (*self._refuse(422, f"per_page {per_page}, page {page}"), {})
        if query.get("filter", ["latest"])[0] not in ("latest", "all"):
            return (*self._refuse(422, "filter"), {})
        if query.get("app_id", [self.app_id])[0] != self.app_id:
            return 200, {"total_count": 0, "check_runs": []}, {}
        with self.lock:
            self.listed.append(query)
            runs = [
                r for r in self.check_runs.values()
                if r.repo == repo and r.bodies[0]["head_sha"] == ref
                and query.get("check_name", [r.bodies[0]["name"]])[0] == r.bodies[0]["name"]
            ]  # fmt: skip
        # `latest`: the most recent check run of each name only.
        if query.get("filter", ["latest"])[0] == "latest":
            runs = list({r.bodies[0]["name"]: r for r in runs}.values())
        shown = runs[(page - 1) * per_page : page * per_page]
        links = {}
        if page * per_page < len(runs):
            after = {**{k: v[0] for k, v in query.items()}, "page": str(page + 1)}
            url = f"{self.api}/repos/{repo}/commits/{ref}/check-runs?{urlencode(after)}"
            links["link"] = f'<{url}>; rel="next"'
        return 200, {"total_count": len(runs), "check_runs": [r.listed() for r in shown]}, links

    def _write(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if method == "POST" and (found := _CREATE.match(path)):
            if not body.get("name") or not body.get("head_sha"):
                return self._refuse(422, f"name and head_sha: {body}")
            if problem := _check_fields(body):
                return self._refuse(422, problem)
            with self.lock:
                run = CheckRun(
                    len(self.check_runs) + 1, f"{found[1]}/{found[2]}", [body], self.app_id
                )
                self.check_runs[run.id] = run
            return 201, {"id": run.id, "head_sha": body["head_sha"], "name": body["name"]}
        if method == "PATCH" and (found := _UPDATE.match(path)):
            with self.lock:
                run = self.check_runs.get(int(found[3]))
            if run is None or run.repo != f"{found[1]}/{found[2]}":
                return self._refuse(404, "Not Found")
            if problem := _check_fields(body):
                return self._refuse(422, problem)
            with self.lock:
                run.bodies.append(body)
            return 200, {"id": run.id}
        return self._refuse(404, "Not Found")

    def _exchange(self, installation: str, token: str) -> tuple[int, dict[str, Any]]:
        try:
            claims = jwt.decode(
                token, self.public_key, algorithms=["RS256"],
                options={"require": ["iat", "exp", "iss"]},
            )  # fmt: skip
        except jwt.PyJWTError as error:
            return self._refuse(401, f"A JSON web token could not be decoded: {error}")
        if claims["exp"] - claims["iat"] > 600 or str(claims["iss"]) != self.app_id:
            return self._refuse(401, f"claims {claims}")
        if installation != self.installation_id:
            return self._refuse(404, "Not Found")
        issued = "ghs_" + secrets.token_hex(18)
        expires = time.time() + self.token_lifetime_s
        with self.lock:
            self.claims.append(claims)
            self.tokens[issued] = expires
        at = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return 201, {"token": issued, "expires_at": at, "permissions": {"checks": "write"}}

    def _refuse(self, status: int, why: str) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.refused.append((status, why))
        return status, {"message": why}


def _check_fields(body: dict[str, Any]) -> str:
    status, conclusion = body.get("status"), body.get("conclusion")
    if status not in STATUSES:
        return f"status {status}"
    if (status == "completed") != (conclusion is not None):
        return "conclusion is given exactly when completed"
    if conclusion is not None and conclusion not in CONCLUSIONS:
        return f"conclusion {conclusion}"
    if not str(body.get("details_url", "")).startswith("https://"):
        return "details_url"
    return ""


@contextlib.contextmanager
def github_app(app: GitHubApp) -> Iterator[GitHubApp]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self._answer("POST")

        def do_PATCH(self) -> None:
            self._answer("PATCH")

        def do_GET(self) -> None:
            self._answer("GET")

        def _answer(self, method: str) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, body, extra = app.answer(method, self.path, headers, raw)
            payload = json.dumps(body).encode()
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *_args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    app.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, name="github-app", daemon=True)
    thread.start()
    try:
        yield app
    finally:
        server.shutdown()
        server.server_close()
