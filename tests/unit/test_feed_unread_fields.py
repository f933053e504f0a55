"""Which personal fields the projector's feed may leave sealed: those no projection reading
their event type reads."""

from __future__ import annotations

from projections.catalog import ALL
from projections.projection import unread_by_all


class Reader:
    version = 1

    def __init__(self, name: str, types: set[str], unread: dict[str, frozenset[str]]) -> None:
        self.name = name
        self.event_types = frozenset(types)
        if unread:
            self.unread = unread


def test_a_field_is_left_sealed_only_if_every_reader_of_its_type_leaves_it() -> None:
    body = {"Received": frozenset({"payload", "headers"})}
    quiet = Reader("quiet", {"Received", "Other"}, body)
    partial = Reader("partial", {"Received"}, {"Received": frozenset({"payload"})})
    everything = Reader("everything", {"Received"}, {})
    elsewhere = Reader("elsewhere", {"Other"}, {})

    assert unread_by_all([quiet]) == body
    assert unread_by_all([quiet, elsewhere]) == body  # it reads no Received
    assert unread_by_all([quiet, partial]) == {"Received": frozenset({"payload"})}
    assert unread_by_all([quiet, everything]) == {}


def test_the_projector_leaves_a_delivery_s_body_sealed() -> None:
    assert unread_by_all(ALL) == {"WebhookReceived": frozenset({"payload"})}
