"""How many pulls a runner keeps waiting per label: one per slot, shared among its labels."""

from __future__ import annotations

from adapters.runner.slots import pulls_per_label


def test_one_label_gets_a_pull_per_slot() -> None:
    assert pulls_per_label(4, 1) == 4
    assert pulls_per_label(1, 1) == 1


def test_labels_share_the_slots_and_each_keeps_at_least_one_pull() -> None:
    assert pulls_per_label(4, 2) == 2
    assert pulls_per_label(5, 2) == 2  # 4 pulls for 5 slots: never more pulls than slots
    assert pulls_per_label(2, 3) == 1  # more labels than slots: one each, as before
    assert pulls_per_label(1, 0) == 1
