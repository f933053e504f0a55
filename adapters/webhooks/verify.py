"""Signature checks per provider: pure functions of the request, the secrets and the clock.

`headers` is looked up by lower-case name (litestar's headers are case-insensitive). Every
comparison of a presented value with a secret-derived one runs in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import assert_never

from domain.webhook_source import Kind

TOLERANCE = timedelta(minutes=5)
"""How far a Standard Webhooks timestamp may be from now, either way (replay protection)."""

# Stable reasons: they label the rejection counter and the log line.
MISSING = "signature_missing"
MALFORMED = "signature_malformed"
MISMATCH = "signature_mismatch"
STALE = "timestamp_out_of_tolerance"

_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_WHSEC = "whsec_"


class BadSignature(Exception):
    """The delivery is not proven to come from its source; `reason` is safe to log."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def verify(
    kind: Kind,
    *,
    secrets: Sequence[str],
    headers: Mapping[str, str],
    query: Mapping[str, str],
    body: bytes,
    now: datetime,
) -> None:
    """Raise BadSignature unless the delivery is signed (or carries a token) with one secret."""
    match kind:
        case "github":
            verify_github(secrets, headers, body)
        case "gitlab":
            verify_gitlab(secrets, headers, body, now)
        case "jenkins":
            verify_jenkins(secrets, headers, query)
        case "generic":
            verify_standard(secrets, headers, body, now)
        case _:
            assert_never(kind)


def github_signature(secret: str, body: bytes) -> str:
    """`X-Hub-Signature-256` of `body`: `sha256=` and the hex HMAC-SHA256 keyed with `secret`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_github(secrets: Sequence[str], headers: Mapping[str, str], body: bytes) -> None:
    given = headers.get("x-hub-signature-256")
    if not given:
        raise BadSignature(MISSING)
    if not given.startswith("sha256="):
        raise BadSignature(MALFORMED)
    presented = given.strip().lower().encode()
    if not any(hmac.compare_digest(github_signature(s, body).encode(), presented) for s in secrets):
        raise BadSignature(MISMATCH)


def verify_gitlab(
    secrets: Sequence[str], headers: Mapping[str, str], body: bytes, now: datetime
) -> None:
    """`X-Gitlab-Token` equal to the secret, or (GitLab 19+) a Standard Webhooks signature."""
    token = headers.get("x-gitlab-token")
    if token is not None and _equals_any(token, secrets):
        return
    if headers.get("webhook-signature") is not None:
        verify_standard(secrets, headers, body, now)
        return
    raise BadSignature(MISSING if token is None else MISMATCH)


def verify_jenkins(
    secrets: Sequence[str], headers: Mapping[str, str], query: Mapping[str, str]
) -> None:
    """The Notification plugin signs nothing: a Basic password or `?token=` equal to the secret."""
    presented = [
        value
        for value in (_basic_password(headers.get("authorization")), query.get("token"))
        if value is not None
    ]
    if not presented:
        raise BadSignature(MISSING)
    if not any(_equals_any(value, secrets) for value in presented):
        raise BadSignature(MISMATCH)


def standard_signature(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    """One `webhook-signature` entry: `v1,` and the base64 HMAC-SHA256 of id, timestamp, body."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_standard_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify_standard(
    secrets: Sequence[str], headers: Mapping[str, str], body: bytes, now: datetime
) -> None:
    """Standard Webhooks (standardwebhooks.com): signed id, timestamp and body; fresh only."""
    msg_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not (msg_id and timestamp and signatures):
        raise BadSignature(MISSING)
    if not _TIMESTAMP.fullmatch(timestamp):
        raise BadSignature(MALFORMED)
    if abs(now.timestamp() - int(timestamp)) > TOLERANCE.total_seconds():
        raise BadSignature(STALE)
    presented = [
        signature.encode()
        for version, _, signature in (entry.partition(",") for entry in signatures.split())
        if version == "v1"
    ]
    for secret in secrets:
        expected = standard_signature(secret, msg_id, timestamp, body).removeprefix("v1,")
        if any(hmac.compare_digest(expected.encode(), p) for p in presented):
            return
    raise BadSignature(MISMATCH)


def _standard_key(secret: str) -> bytes:
    # Standard Webhooks secrets are `whsec_` + base64 of the key; any other text is the key.
    if secret.startswith(_WHSEC):
        try:
            return base64.b64decode(secret.removeprefix(_WHSEC), validate=True)
        except (binascii.Error, ValueError):
            pass
    return secret.encode()


def _basic_password(authorization: str | None) -> str | None:
    if authorization is None:
        return None
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, ValueError):
        raise BadSignature(MALFORMED) from None
    _user, colon, password = decoded.partition(":")
    if not colon:
        raise BadSignature(MALFORMED)
    return password


def _equals_any(presented: str, secrets: Sequence[str]) -> bool:
    given = presented.encode()
    return any(hmac.compare_digest(secret.encode(), given) for secret in secrets)
