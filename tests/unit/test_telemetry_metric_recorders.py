"""The per-request recorders (`counted`, `observed`) change a metric exactly as prometheus
client's own inc and observe do: the same samples in the exposition, bucket bounds included."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from adapters.telemetry.metrics import counted, observed

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 1, 2.5)
# On each bound, between bounds, below the first, above the last, zero and negative.
AMOUNTS = [0.001, 0.0025, 0.0011, 0.0049, 0.005, 0.0, -1.0, 0.5, 1.0, 2.5, 2.6, 1e9, 3e-7]


def exposition(registry: CollectorRegistry) -> list[bytes]:
    """The samples, without the `_created` timestamps (each registry's own clock)."""
    return [line for line in generate_latest(registry).splitlines() if b"_created" not in line]


def metrics(registry: CollectorRegistry) -> tuple[Counter, Histogram]:
    counter = Counter("calls_total", "Calls.", ["route", "status"], registry=registry)
    histogram = Histogram("call_seconds", "Time.", ["route"], buckets=BUCKETS, registry=registry)
    return counter, histogram


def test_recorders_give_the_exposition_inc_and_observe_give() -> None:
    theirs, ours = CollectorRegistry(), CollectorRegistry()
    their_counter, their_histogram = metrics(theirs)
    our_counter, our_histogram = metrics(ours)
    for i, amount in enumerate(AMOUNTS):
        route = "/a" if i % 3 else "/b"
        their_counter.labels(route, "200").inc()
        their_histogram.labels(route).observe(amount)
        counted(our_counter, route, "200").value += 1
        observed(our_histogram, route)(amount)
    exposed = exposition(ours)
    assert exposed == exposition(theirs)
    assert b'call_seconds_bucket{le="0.001",route="/a"} 1.0' in exposed


@pytest.mark.parametrize("amount", AMOUNTS)
def test_each_amount_lands_in_the_bucket_observe_picks(amount: float) -> None:
    theirs, ours = CollectorRegistry(), CollectorRegistry()
    _, their_histogram = metrics(theirs)
    _, our_histogram = metrics(ours)
    their_histogram.labels("/x").observe(amount)
    observed(our_histogram, "/x")(amount)
    assert exposition(ours) == exposition(theirs)


def test_a_label_set_keeps_one_child() -> None:
    counter, _ = metrics(CollectorRegistry())
    counted(counter, "/c", "201").value += 1
    counted(counter, "/c", "201").value += 2
    counter.labels("/c", "201").inc()  # the child's own inc still counts, into the same value
    assert counter.labels("/c", "201")._value.get() == 4


def test_the_childs_own_methods_still_count_with_the_recorders() -> None:
    theirs, ours = CollectorRegistry(), CollectorRegistry()
    _, their_histogram = metrics(theirs)
    _, our_histogram = metrics(ours)
    for amount in AMOUNTS:
        their_histogram.labels("/m").observe(amount)
        their_histogram.labels("/m").observe(amount * 2)
        observed(our_histogram, "/m")(amount)
        our_histogram.labels("/m").observe(amount * 2)
    assert exposition(ours) == exposition(theirs)
