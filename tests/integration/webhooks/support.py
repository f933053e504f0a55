"""Genuine payloads with the headers their providers send, signed for a test source."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import uuid4

from litestar.testing import AsyncTestClient

from adapters.webhooks.verify import github_signature, standard_signature
from tests.helpers import WEBHOOK_FIXTURES, unique_id

FIXTURES = WEBHOOK_FIXTURES
GITLAB_EVENTS = {
    "push": "Push Hook",
    "tag_push": "Tag Push Hook",
    "merge_request": "Merge Request Hook",
    "pipeline": "Pipeline Hook",
    "job": "Job Hook",
}


@dataclass(frozen=True)
class Sample:
    kind: str
    path: Path
    event: str
    """The event kind the delivery must be recorded under."""

    @property
    def body(self) -> bytes:
        return self.path.read_bytes()

    def __str__(self) -> str:
        return f"{self.kind}/{self.path.name}"


def samples() -> list[Sample]:
    """Every fixture payload (listed in their MANIFEST.md), with its event header's value."""
    found = []
    for path in sorted(FIXTURES.glob("*/*.json")):
        kind, stem = path.parent.name, path.name.split(".")[0]
        event = {"github": stem, "gitlab": GITLAB_EVENTS.get(stem), "jenkins": "notification"}
        found.append(Sample(kind, path, event[kind] or stem))
    assert len(found) == 19, f"expected the 19 fixtures under {FIXTURES}"
    return found


@dataclass
class Delivery:
    """One HTTP delivery as its provider would send it."""

    headers: dict[str, str]
    params: dict[str, str] = field(default_factory=dict)
    credentials: tuple[str, ...] = ()
    """Every signature or token value sent: none may ever be stored."""


def sign(kind: str, secret: str, body: bytes, *, event: str = "", delivery: str = "") -> Delivery:
    delivery = delivery or str(uuid4())
    match kind:
        case "github":
            signature = github_signature(secret, body)
            legacy = "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
            headers = {
                "X-GitHub-Event": event,
                "X-GitHub-Delivery": delivery,
                "X-GitHub-Hook-ID": "292430182",
                "X-Hub-Signature-256": signature,
                "X-Hub-Signature": legacy,
                "User-Agent": "GitHub-Hookshot/044aadd",
                "Content-Type": "application/json",
            }
            return Delivery(headers, credentials=(signature, legacy.removeprefix("sha1=")))
        case "gitlab":
            headers = {
                "X-Gitlab-Event": event,
                "X-Gitlab-Event-UUID": str(uuid4()),
                "Idempotency-Key": delivery,
                "X-Gitlab-Webhook-UUID": "02affd2d-2cba-4033-917d-ec22d5dc4b38",
                "X-Gitlab-Instance": "https://gitlab.com",
                "X-Gitlab-Token": secret,
                "User-Agent": "GitLab/17.5.0",
                "Content-Type": "application/json",
            }
            return Delivery(headers, credentials=(secret,))
        case "jenkins":
            basic = base64.b64encode(f"jenkins:{secret}".encode()).decode()
            headers = {
                "Authorization": f"Basic {basic}",
                "Content-Type": "application/json;charset=UTF-8",
                "User-Agent": "Java/17.0.9",  # the plugin posts with HttpURLConnection
            }
            return Delivery(headers, credentials=(secret, basic))
        case "generic":
            return standard(secret, body, msg_id=delivery)
    raise AssertionError(kind)


def standard(secret: str, body: bytes, *, msg_id: str = "", at: float | None = None) -> Delivery:
    """Standard Webhooks headers, signed at `at` (default now)."""
    msg_id = msg_id or f"msg_{uuid4().hex}"
    stamp = str(int(time.time() if at is None else at))
    signature = standard_signature(secret, msg_id, stamp, body)
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": stamp,
        "webhook-signature": signature,
        "Content-Type": "application/json",
        "User-Agent": "Svix-Webhooks/1.24",
    }
    return Delivery(headers, credentials=(signature, signature.removeprefix("v1,")))


class Sources:
    """Projects and webhook sources made through the API as an admin."""

    def __init__(self, client: AsyncTestClient, admin: dict[str, str]) -> None:
        self.client = client
        self.admin = admin

    async def project(self) -> str:
        body = {"name": "hooks", "slug": unique_id("wh-")[:40]}
        response = await self.client.post("/api/v1/projects", json=body, headers=self.admin)
        assert response.status_code == 201, response.text
        return response.json()["id"]

    async def register(
        self, kind: str, *, secret: str | None = None, name: str = "", project: str = ""
    ) -> dict[str, Any]:
        """A new source: its `id`, `name`, `secret` and the `position` written."""
        secret = secret or unique_id("secret-")
        name = name or unique_id(f"{kind}-")[:40]
        body = {
            "project_id": project or await self.project(),
            "kind": kind,
            "name": name,
            "secret": secret,
        }
        response = await self.client.post("/api/v1/webhook-sources", json=body, headers=self.admin)
        assert response.status_code == 201, response.text
        return {**response.json(), "name": name, "secret": secret}

    async def command(self, source_id: str, action: str, **body: Any) -> None:
        response = await self.client.post(
            f"/api/v1/webhook-sources/{source_id}/{action}", json=body, headers=self.admin
        )
        assert response.status_code == 202, response.text
