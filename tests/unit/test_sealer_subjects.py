"""Whose data a delivery's body is: a GitHub push's facts and e-mail read in one scan must name
the same subject and handles as its facts and its e-mail read apart (as before)."""

from __future__ import annotations

import json
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.store.personal.sealer import _whose
from commands.webhook_payloads import UnreadablePayload, parse_delivery
from domain.limits import ACTOR_MAX, cut
from tests.helpers import WEBHOOK_FIXTURES


def _before(data: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """`_whose` as it was: the facts, then a second scan of the body for its e-mail."""
    kind, payload = str(data.get("source_kind", "")), str(data.get("payload", ""))
    try:
        facts = parse_delivery(
            kind, str(data.get("event", "")), payload, content_type=data.get("content_type")
        )
        actor = getattr(facts, "actor", None)
    except UnreadablePayload:
        actor = None
    if not actor or actor == kind:
        return f"delivery:{data.get('source_id')}:{data.get('delivery_id')}", {}
    handles = {"login": cut(actor, ACTOR_MAX)}
    try:
        body = msgspec.json.decode(payload)
    except msgspec.DecodeError:
        body = None
    if isinstance(body, dict):
        pusher = body.get("pusher")
        for value in (isinstance(pusher, dict) and pusher.get("email"), body.get("user_email")):
            if isinstance(value, str) and "@" in value:
                handles["email"] = value
                break
    return cut(actor, ACTOR_MAX), handles


def _delivery(payload: str, event: str = "push", content_type: str = "application/json") -> dict:
    return {
        "source_kind": "github",
        "event": event,
        "payload": payload,
        "content_type": content_type,
        "source_id": "s",
        "delivery_id": "d",
    }


def test_every_fixture_names_the_same_subject() -> None:
    for path in sorted(WEBHOOK_FIXTURES.glob("*/*.json")):
        kind, stem = path.parent.name, path.name.split(".")[0]
        data = {**_delivery(path.read_text(), event=stem), "source_kind": kind}
        assert _whose(data) == _before(data), path


def test_a_push_names_its_pusher_and_e_mail() -> None:
    pusher = {"name": "octo", "email": "o@x"}
    body = {"ref": "refs/heads/main", "after": "a" * 40, "pusher": pusher, "user_email": "u@y"}
    assert _whose(_delivery(json.dumps(body))) == ("octo", {"login": "octo", "email": "o@x"})
    body["pusher"] = {"name": "octo", "email": "none"}
    assert _whose(_delivery(json.dumps(body))) == ("octo", {"login": "octo", "email": "u@y"})


_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=12)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
_addresses = st.sampled_from(["o@x.example", "u@y.example", "no-at", "", "@"]) | _values


def _mostly(draw: st.DrawFn) -> bool:
    return draw(st.integers(0, 9)) < 8


@st.composite
def _pushes(draw: st.DrawFn) -> str:
    """Push bodies, mostly well formed, naming e-mail addresses where the scans look."""
    body: dict[str, Any] = {}
    if _mostly(draw):
        body["ref"] = draw(st.sampled_from(["refs/heads/main", "refs/tags/v1"]))
    elif draw(st.booleans()):
        body["ref"] = draw(_values)
    if draw(st.booleans()):
        body["after"] = draw(st.sampled_from(["0" * 40, "b" * 40]) | _values)
    if _mostly(draw):
        pusher = draw(st.dictionaries(st.sampled_from(["x", "y"]), _values, max_size=2))
        if _mostly(draw):
            pusher["name"] = draw(st.sampled_from(["octo", ""]) | _values)
        if _mostly(draw):
            pusher["email"] = draw(_addresses)
        body["pusher"] = pusher if _mostly(draw) else draw(_values)
    if _mostly(draw):
        body["user_email"] = draw(_addresses)
    if draw(st.booleans()):
        body["sender"] = draw(st.fixed_dictionaries({"login": st.sampled_from(["hub", 3])}))
    if draw(st.booleans()):
        body["deleted"] = draw(st.booleans() | _values)
    return json.dumps(body)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_pushes(), st.sampled_from(["application/json", "", "application/x-www-form-urlencoded"]))
def test_one_scan_names_whom_two_scans_named(payload: str, content_type: str) -> None:
    data = _delivery(payload, content_type=content_type)
    assert _whose(data) == _before(data)
