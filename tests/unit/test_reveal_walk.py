"""Sealed values found and opened at any depth of an event's data, the rest left as it is."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.store.personal import cipher
from adapters.store.personal.reveal import _collect, _opened, _opened_at, _sealed_in
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


_TEXTS = st.sampled_from(["plain", A, B, "pii:v1", f"x{A}", ""])
_VALUES = st.recursive(
    st.one_of(st.none(), st.integers(), st.floats(allow_nan=False), _TEXTS),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.sampled_from("abcde"), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300)
@given(data=st.dictionaries(st.sampled_from(["payload", "headers", "id", "x", "y"]), _VALUES))
def test_opening_only_the_fields_found_sealed_is_opening_it_all(data: dict[str, Any]) -> None:
    """`_opened_at` with the fields `_sealed_in` names against `_opened` over the whole data,
    which it replaced: equal results, the same values found, and each top-level field shared
    (or copied) alike."""

    class Holder:
        metadata = EventMetadata(actor="alice")

    fields: list[str] = []
    found = _sealed_in(data, Holder(), fields)  # type: ignore[arg-type]
    old_found: list[str] = []
    _collect(data, old_found)
    assert found == old_found

    new = _opened_at(data, fields, opener)  # type: ignore[arg-type]
    old = _opened(data, opener)  # type: ignore[arg-type]
    assert new == old
    assert (new is data) == (old is data)
    assert list(new) == list(old)  # the fields in their places
    for name in data:
        assert (new[name] is data[name]) == (old[name] is data[name])
        assert (name in fields) == (old[name] is not data[name])
