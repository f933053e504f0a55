"""The gate's check of a GitHub push body is the sealer's read of it (kept, so the body is
scanned once): it must take exactly the bodies the gate's own check took, as the same text."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from litestar.exceptions import HTTPException

from adapters.store.personal.sealer import _whose
from adapters.webhooks.gate import _parse, _read_push, read_as_push
from commands.webhook_payloads import github
from tests.helpers import WEBHOOK_FIXTURES

PUSHES = [json.loads(p.read_text()) for p in sorted(WEBHOOK_FIXTURES.glob("github/push.*.json"))]
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=8,
)
_FIELDS = st.sampled_from(["ref", "after", "deleted", "pusher", "sender", "repository", "x"])


@st.composite
def _bodies(draw: st.DrawFn) -> bytes:
    """Push bodies, some of their fields replaced by any JSON; other JSON; broken texts."""
    shape = draw(st.sampled_from(["push", "json", "bytes"]))
    if shape == "bytes":
        return draw(st.binary(max_size=40))
    if shape == "json":
        return json.dumps(draw(_JSON)).encode()
    body: dict[str, Any] = dict(draw(st.sampled_from(PUSHES)))
    for name in draw(st.lists(_FIELDS, max_size=3)):
        body[name] = draw(_JSON)
    text = json.dumps(body, ensure_ascii=draw(st.booleans())).encode()
    # A broken end, or a byte no UTF-8 has inside an unknown field's string.
    match draw(st.sampled_from(["as is", "cut", "bad utf-8"])):
        case "cut":
            return text[: draw(st.integers(0, len(text) - 1))]
        case "bad utf-8":
            return text[:-1] + b', "unknown": "\xff\xfe"}'
    return text


def _verdict(read: Any) -> tuple[str, Any]:
    try:
        return "taken", read()[0]
    except HTTPException as refused:
        return "refused", (refused.status_code, refused.detail, refused.extra)


@given(body=_bodies())
def test_the_gate_takes_a_push_as_its_own_check_did(body: bytes) -> None:
    assert _verdict(lambda: _read_push(body) or _parse(body)) == _verdict(lambda: _parse(body))


def test_the_sealer_reads_the_push_the_gate_read(monkeypatch: pytest.MonkeyPatch) -> None:
    text = (WEBHOOK_FIXTURES / "github" / "push.branch-created.json").read_text()
    headers = {"x-github-event": "push", "content-type": "application/json"}
    assert read_as_push("github", headers, headers["content-type"])
    scans: list[object] = []
    scan = github._read_push
    monkeypatch.setattr(
        github, "_read_push", lambda payload: scans.append(payload) or scan(payload)
    )
    admitted = _read_push(text.encode())
    assert admitted is not None and admitted[0] == text
    data = {
        "source_kind": "github",
        "event": "push",
        "payload": admitted[0],
        "content_type": "application/json",
        "source_id": "s",
        "delivery_id": "d",
    }
    login, handles = _whose(data)
    assert login and "login" in handles
    assert scans == [text]  # one scan of the body for the two reads
    # An equal text that is another object is read again: what is kept is found by identity.
    _whose({**data, "payload": "".join(text)})
    assert len(scans) == 2
    # A large body is read, not kept: the gate's read and the sealer's are two scans.
    large = text.rstrip()[:-1] + ', "padding": "' + "x" * github._KEPT_MAX + '"}'
    assert _read_push(large.encode()) is not None
    _whose({**data, "payload": large})
    assert len(scans) == 4


def test_a_push_sent_form_encoded_or_another_event_is_not_read_as_a_push() -> None:
    json_push = {"x-github-event": "push"}
    assert not read_as_push("github", json_push, "application/x-www-form-urlencoded")
    assert not read_as_push("github", {"x-github-event": "pull_request"}, "application/json")
    assert not read_as_push("gitlab", {"x-gitlab-event": "push"}, "application/json")
