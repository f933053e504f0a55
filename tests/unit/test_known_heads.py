"""The heads a store knows: a hash is answered only for the very version it was noted at."""

from __future__ import annotations

from adapters.store.encoding import GENESIS_HASH
from adapters.store.known_heads import KnownHeads

H1, H2, H3 = b"1" * 32, b"2" * 32, b"3" * 32


def test_a_hash_is_known_at_its_version_only_and_a_new_stream_at_genesis() -> None:
    heads = KnownHeads()
    heads.note("s", 2, H2)

    assert heads.hash_at("s", 2) == H2
    assert heads.hash_at("s", 1) is None
    assert heads.hash_at("s", 3) is None
    assert heads.hash_at("other", 0) == GENESIS_HASH
    assert heads.hash_at("s", 0) == GENESIS_HASH  # an append expecting 0 there is a conflict


def test_an_older_head_noted_later_leaves_the_newer_one() -> None:
    heads = KnownHeads()
    heads.note("s", 3, H3)
    heads.note("s", 1, H1)  # a read of the past, or an answer overtaken

    assert (heads.hash_at("s", 3), heads.hash_at("s", 1)) == (H3, None)


def test_the_least_recently_noted_stream_goes_first() -> None:
    heads = KnownHeads(max_entries=2)
    heads.note("a", 1, H1)
    heads.note("b", 1, H1)
    heads.note("a", 2, H2)
    heads.note("c", 1, H1)

    assert (heads.hash_at("a", 2), heads.hash_at("b", 1), heads.hash_at("c", 1)) == (H2, None, H1)
    assert len(heads) == 2
    heads.forget("a")
    assert heads.hash_at("a", 2) is None
