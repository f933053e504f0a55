"""Signature checks: the providers' published test vectors, then each way a delivery is refused."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from adapters.webhooks.verify import (
    MALFORMED,
    MISMATCH,
    MISSING,
    STALE,
    BadSignature,
    github_signature,
    standard_signature,
    verify,
)

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
SECRET, OLD = "a-secret-of-sixteen+", "the-previous-secret"
BODY = b'{"zen": "Keep it logically awesome."}'
# Standard Webhooks' published test vector (standard-webhooks spec and libraries).
SW_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SW_ID, SW_STAMP, SW_BODY = "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", b'{"test": 2432232314}'
SW_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def check(kind, headers, *, secrets=(SECRET,), body=BODY, query=None, now=NOW) -> None:
    verify(kind, secrets=secrets, headers=headers, query=query or {}, body=body, now=now)


def refused(kind, headers, **kwargs) -> str:
    with pytest.raises(BadSignature) as caught:
        check(kind, headers, **kwargs)
    return caught.value.reason


def test_github_signature_matches_githubs_test_vector() -> None:
    assert github_signature("It's a Secret to Everybody", b"Hello, World!") == (
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    )


def test_github_accepts_the_current_or_a_still_valid_previous_secret() -> None:
    check("github", {"x-hub-signature-256": github_signature(SECRET, BODY)})
    check("github", {"x-hub-signature-256": github_signature(OLD, BODY)}, secrets=(SECRET, OLD))


def test_github_refuses_a_missing_wrong_or_malformed_signature() -> None:
    assert refused("github", {}) == MISSING
    assert refused("github", {"x-hub-signature": "sha1=abc"}) == MISSING
    assert refused("github", {"x-hub-signature-256": github_signature(OLD, BODY)}) == MISMATCH
    tampered = {"x-hub-signature-256": github_signature(SECRET, BODY)}
    assert refused("github", tampered, body=BODY + b" ") == MISMATCH
    assert refused("github", {"x-hub-signature-256": "md5=abc"}) == MALFORMED
    assert refused("github", tampered, secrets=()) == MISMATCH  # a disabled source


def test_gitlab_compares_its_token_with_the_secret() -> None:
    check("gitlab", {"x-gitlab-token": SECRET})
    assert refused("gitlab", {}) == MISSING
    assert refused("gitlab", {"x-gitlab-token": SECRET[:-1]}) == MISMATCH
    assert refused("gitlab", {"x-gitlab-token": "é" + SECRET}) == MISMATCH


def test_gitlab_accepts_a_standard_webhooks_signature_instead() -> None:
    stamp = str(int(NOW.timestamp()))
    signed = {
        "webhook-id": "id-1",
        "webhook-timestamp": stamp,
        "webhook-signature": standard_signature(SECRET, "id-1", stamp, BODY),
    }
    check("gitlab", signed)
    check("gitlab", {**signed, "x-gitlab-token": "not the token"})
    assert refused("gitlab", {**signed, "webhook-signature": "v1,AAAA"}) == MISMATCH


def basic(user: str, password: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_jenkins_accepts_a_basic_password_or_a_token_parameter() -> None:
    check("jenkins", basic("any-user", SECRET))
    check("jenkins", basic("", f"{OLD}"), secrets=(SECRET, OLD))
    check("jenkins", {}, query={"token": SECRET})
    assert refused("jenkins", {}) == MISSING
    assert refused("jenkins", {"authorization": "Bearer x"}) == MISSING
    assert refused("jenkins", basic("any-user", "wrong")) == MISMATCH
    assert refused("jenkins", {}, query={"token": "wrong"}) == MISMATCH
    assert refused("jenkins", {"authorization": "Basic !!!"}) == MALFORMED
    assert refused("jenkins", {"authorization": "Basic " + base64.b64encode(b"x").decode()}) == (
        MALFORMED
    )


def standard(secret: str, *, at: datetime = NOW, msg_id: str = "msg-1", body: bytes = BODY):
    stamp = str(int(at.timestamp()))
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": stamp,
        "webhook-signature": standard_signature(secret, msg_id, stamp, body),
    }


def test_standard_webhooks_matches_the_specifications_test_vector() -> None:
    assert standard_signature(SW_SECRET, SW_ID, SW_STAMP, SW_BODY) == SW_SIGNATURE
    headers = {
        "webhook-id": SW_ID,
        "webhook-timestamp": SW_STAMP,
        "webhook-signature": SW_SIGNATURE,
    }
    check(
        "generic",
        headers,
        secrets=(SW_SECRET,),
        body=SW_BODY,
        now=datetime.fromtimestamp(int(SW_STAMP) + 299, UTC),
    )


def test_standard_webhooks_uses_a_plain_secret_as_its_raw_bytes() -> None:
    check("generic", standard(SECRET))
    check("generic", standard(OLD), secrets=(SECRET, OLD))


def test_standard_webhooks_accepts_any_one_of_several_signatures() -> None:
    headers = standard(SECRET)
    other = standard_signature(OLD, "msg-1", headers["webhook-timestamp"], BODY)
    headers["webhook-signature"] = f"v1a,ignored {other} {headers['webhook-signature']}"
    check("generic", headers)


@pytest.mark.parametrize(
    "skew", [timedelta(minutes=-5, seconds=-1), timedelta(minutes=5, seconds=1)]
)
def test_standard_webhooks_refuses_a_timestamp_over_five_minutes_away(skew: timedelta) -> None:
    assert refused("generic", standard(SECRET, at=NOW + skew)) == STALE


def test_standard_webhooks_refuses_what_was_not_signed_so() -> None:
    headers = standard(SECRET)
    assert refused("generic", {k: v for k, v in headers.items() if k != "webhook-id"}) == MISSING
    assert refused("generic", headers, body=BODY + b"\n") == MISMATCH
    assert refused("generic", {**headers, "webhook-id": "msg-2"}) == MISMATCH
    assert refused("generic", {**headers, "webhook-timestamp": "12e3"}) == MALFORMED
    v2 = headers["webhook-signature"].replace("v1,", "v2,")
    assert refused("generic", {**headers, "webhook-signature": v2}) == MISMATCH
