"""The Subscription aggregate: its URL and event rules, and its lifecycle."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import IllegalTransition, InvalidValue
from domain.subscription import Subscription, SubscriptionStatus, valid_url, wanted

AT = datetime(2026, 1, 1, tzinfo=UTC)


def subscription(**overrides: object) -> Subscription:
    values = {
        "id": uuid.uuid4(),
        "project_id": uuid.uuid4(),
        "url": "https://hooks.example.com/in",
        "event_types": ("Run*",),
        "sealed_secret": "sealed",
        "at": AT,
    } | overrides
    return Subscription.create(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "url",
    [
        "ftp://x/y",
        "hooks.example.com/in",
        "https://user:pw@hooks.example.com/",
        "https://hooks.example.com/#frag",
        "https://",
        "https://exa mple.com/",
        "http://h:99999/",
        "https://h/\x00",
        "https://h/" + "a" * 2000,
    ],
)
def test_a_bad_url_is_refused_naming_the_field(url: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        subscription(url=url)
    assert refused.value.field == "url"


@pytest.mark.parametrize(
    "types", [(), ("Run Failed",), ("a" * 101,), tuple(f"T{i}" for i in range(51))]
)
def test_bad_event_types_are_refused(types: tuple[str, ...]) -> None:
    with pytest.raises(InvalidValue) as refused:
        subscription(event_types=types)
    assert refused.value.field == "event_types"


def test_event_types_are_types_globs_or_everything() -> None:
    assert wanted(("RunFailed",), "RunFailed") and not wanted(("RunFailed",), "RunStarted")
    assert wanted(("Run*",), "RunStarted") and not wanted(("Run*",), "PipelineCreated")
    assert wanted(("*",), "Anything")


@given(st.text(max_size=300))
def test_any_url_is_either_refused_or_kept_as_given(url: str) -> None:
    try:
        kept = valid_url(url)
    except InvalidValue:
        return
    assert kept == url.strip() and kept.startswith(("http://", "https://"))


def test_lifecycle_disable_enable_delete() -> None:
    sub = subscription()
    sub.disable(reason="  keeps failing  ", at=AT)
    assert (sub.status, sub.disabled_reason) == (SubscriptionStatus.DISABLED, "keeps failing")
    with pytest.raises(IllegalTransition):
        sub.disable(reason="again", at=AT)
    sub.enable(at=AT)
    sub.delete(at=AT)
    assert sub.status is SubscriptionStatus.DELETED
    with pytest.raises(IllegalTransition):
        sub.delete(at=AT)
    with pytest.raises(IllegalTransition):
        sub.request_resend(message_id="m", event_position=1, at=AT)


def test_a_parked_delivery_is_checked() -> None:
    sub = subscription()
    sub.park(message_id="m", event_position=3, attempts=4, last_status=503, last_error="x", at=AT)
    for bad in ({"attempts": 0}, {"last_status": 42}, {"event_position": 0}, {"message_id": ""}):
        values = {"message_id": "m", "event_position": 3, "attempts": 4, "last_status": 503} | bad
        with pytest.raises(InvalidValue):
            sub.park(last_error="", at=AT, **values)  # type: ignore[arg-type]
    assert [type(e).__name__ for e in sub.collect_events()] == ["Created", "DeliveryParked"]
