"""Outbound webhooks' pure parts: Standard Webhooks signatures, SSRF rules, back-off.

Signatures are checked with the reference `standardwebhooks` library, against the spec at
https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
"""

from __future__ import annotations

import base64
import ipaddress
import random
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from adapters.outbound import signing
from adapters.outbound.backoff import Backoff
from adapters.outbound.targets import AllowList, Blocked, Target, forbidden, resolve
from commands.subscriptions import new_secret


@given(body=st.binary(max_size=2000), message_id=st.text(min_size=1, max_size=60))
def test_a_signature_verifies_with_the_reference_library(body: bytes, message_id: str) -> None:
    secret = new_secret()
    now = int(time.time())
    headers = signing.headers(signing.secret_key(secret), message_id, now, body)
    Webhook(secret).verify(body, headers, json_parse=False)


def test_the_spec_example_signature() -> None:
    # The example of the spec's "Signature scheme" section.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    found = signing.signature(
        signing.secret_key(secret), "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body
    )
    assert found == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_a_tampered_body_or_other_secret_does_not_verify() -> None:
    secret, body = new_secret(), b'{"a":1}'
    headers = signing.headers(signing.secret_key(secret), "m1", int(time.time()), body)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(b'{"a":2}', headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)


def test_secrets_are_whsec_and_32_random_bytes() -> None:
    one, two = new_secret(), new_secret()
    assert one.startswith("whsec_") and one != two
    assert len(base64.b64decode(one.removeprefix("whsec_"))) == 32


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "::1",
        "fe80::1",
        "fc00::1",
        "0.0.0.0",
        "224.0.0.1",
        "100.64.0.1",
        "::ffff:127.0.0.1",
    ],
)
def test_addresses_that_are_not_public_are_forbidden(address: str) -> None:
    assert forbidden(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_are_not(address: str) -> None:
    assert not forbidden(ipaddress.ip_address(address))


async def test_loopback_is_refused_unless_allowed() -> None:
    with pytest.raises(Blocked, match="FLOWLEDGER_OUTBOUND_ALLOW"):
        await resolve("http://127.0.0.1:9/hook", AllowList())
    with pytest.raises(Blocked):
        await resolve("http://localhost:9/hook", AllowList())
    allowed = await resolve("http://127.0.0.1:9/hook", AllowList.parse(["127.0.0.1"]))
    by_name = await resolve("http://localhost:9/hook", AllowList.parse(["localhost"]))
    by_network = await resolve("http://127.0.0.1:9/x", AllowList.parse(["127.0.0.0/8"]))
    assert allowed.address == by_network.address == "127.0.0.1"
    assert by_name.host == "localhost"


async def test_an_allowed_address_does_not_open_the_others() -> None:
    with pytest.raises(Blocked):
        await resolve("http://10.0.0.1/x", AllowList.parse(["127.0.0.1"]))


async def test_an_unresolvable_host_is_blocked_with_the_reason() -> None:
    with pytest.raises(Blocked, match="cannot resolve"):
        await resolve("http://no-such-host.invalid/x", AllowList())


def test_the_request_goes_to_the_checked_address_with_the_name_as_host() -> None:
    target = Target(
        "https://hooks.example.com:8443/a?b=1", "hooks.example.com", "203.0.113.9", 8443, "https"
    )
    assert target.pinned_url == "https://203.0.113.9:8443/a?b=1"
    assert target.host_header == "hooks.example.com:8443"
    v6 = Target("http://h/x", "h", "2001:db8::1", 80, "http")
    assert v6.pinned_url == "http://[2001:db8::1]:80/x" and v6.host_header == "h"


@given(attempt=st.integers(1, 200), seed=st.integers(0, 2**32))
def test_backoff_is_jittered_under_a_doubling_ceiling_and_a_cap(attempt: int, seed: int) -> None:
    backoff = Backoff(base_s=0.5, cap_s=60, give_up_after_s=3600)
    delay = backoff.delay(attempt, random.Random(seed))
    assert 0 <= delay <= min(60, 0.5 * 2 ** (attempt - 1))


def test_backoff_gives_up_after_its_time_and_never_waits_past_it() -> None:
    backoff = Backoff(base_s=100, cap_s=100, give_up_after_s=10)
    assert backoff.next_wait(1, 10.0) is None
    wait = backoff.next_wait(1, 9.5)
    assert wait is not None and wait <= 0.5
