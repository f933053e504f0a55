"""Sealed values found and opened at any depth of an event's data, the rest left as it is."""

from __future__ import annotations

import copy
from typing import Any

from adapters.store.personal import cipher
from adapters.store.personal.reveal import _opened, _sealed_in
from domain.envelope import EventMetadata

A = f"{cipher.PREFIX}subject-a:AAAA"
B = f"{cipher.PREFIX}subject-b:BBBB"
DATA: dict[str, Any] = {
    "name": "plain",
    "payload": A,
    "count": 3,
    "nested": {"author": {"email": B, "login": "x"}, "untouched": {"k": [1, "v"]}},
    "list": ["a", A, {"deep": [B, None]}, 2.5],
    "empty": {},
}


def opener(value: str) -> str:
    return f"opened({value[-4:]})"


def test_every_sealed_value_is_found_in_order_with_the_sealed_actor() -> None:
    class Holder:
        metadata = EventMetadata(actor=B)

    assert _sealed_in(DATA, Holder()) == [A, B, A, B, B]  # type: ignore[arg-type]
    Holder.metadata = EventMetadata(actor="alice")
    assert _sealed_in({"x": 1, "y": {"z": "plain"}}, Holder()) == []  # type: ignore[arg-type]


def test_sealed_values_are_opened_at_any_depth_and_nothing_else_changes() -> None:
    before = copy.deepcopy(DATA)

    opened = _opened(DATA, opener)  # type: ignore[arg-type]

    assert opened == {
        "name": "plain",
        "payload": "opened(AAAA)",
        "count": 3,
        "nested": {"author": {"email": "opened(BBBB)", "login": "x"}, "untouched": {"k": [1, "v"]}},
        "list": ["a", "opened(AAAA)", {"deep": ["opened(BBBB)", None]}, 2.5],
        "empty": {},
    }
    assert before == DATA  # the stored data is never changed in place
    assert opened["nested"]["untouched"] is DATA["nested"]["untouched"]  # shared, not copied


def test_data_with_nothing_sealed_is_returned_as_it_is() -> None:
    data = {"a": "plain", "b": {"c": ["d", 1]}}

    assert _opened(data, opener) is data  # type: ignore[arg-type]
