"""The runner's log masker: every form of a secret, also when split between pieces."""

from __future__ import annotations

import base64
import json
import random
from urllib.parse import quote

import pytest

from adapters.runner.masking import MASK, LogMasker
from adapters.runner.secret_forms import compiled_forms

SECRET = 's3cr3t/value+with=odd&chars"x'
MULTI = "-----BEGIN KEY-----\nAAAAlineONE\nBBBBlineTWO\n-----END KEY-----"


@pytest.mark.parametrize(
    "shown",
    [
        SECRET,
        base64.b64encode(SECRET.encode()).decode(),
        base64.urlsafe_b64encode(SECRET.encode()).decode(),
        quote(SECRET, safe=""),
        json.dumps(SECRET)[1:-1],
    ],
    ids=["plain", "base64", "base64url", "url", "json"],
)
def test_each_form_of_a_value_is_masked(shown: str) -> None:
    masked = LogMasker([SECRET]).mask(f"token is {shown} here\n")

    assert masked == f"token is {MASK} here\n"


def test_a_value_inside_a_longer_base64_text_is_masked_at_any_alignment() -> None:
    for user in ("u", "us", "usr"):  # the value starts at each offset of a 3-byte group
        header = base64.b64encode(f"{user}:{SECRET}".encode()).decode()
        masked = LogMasker([SECRET]).mask(f"Authorization: Basic {header}")
        assert MASK in masked
        # Only the few characters that also carry the user's bits or the padding remain.
        assert len(masked) <= len("Authorization: Basic ") + len(MASK) + 7


def test_each_line_of_a_multi_line_value_is_masked_and_the_whole_value_at_once() -> None:
    masker = LogMasker([MULTI])

    assert masker.mask(f"key:\n{MULTI}\n") == f"key:\n{MASK}\n"
    assert masker.mask("only AAAAlineONE leaked") == f"only {MASK} leaked"
    assert "lineTWO" not in masker.mask(json.dumps({"key": MULTI}))


def test_short_derived_forms_are_not_masked_but_a_short_value_is() -> None:
    assert LogMasker(["ab"]).mask("ab cd YW") == f"{MASK} cd YW"


def test_no_values_changes_nothing() -> None:
    masker = LogMasker([])

    assert masker.feed(b"anything") == b"anything" and masker.flush() == b""


def test_a_value_split_between_pieces_is_masked_and_no_text_is_lost() -> None:
    values = [SECRET, MULTI, "deploy-key-0123456789"]
    text = "".join(
        f"line {i}: {random.Random(i).choice(values)} and more text\n" for i in range(200)
    )
    expected = LogMasker(values).mask(text)
    rng = random.Random(7)
    for _ in range(20):
        masker, out, at = LogMasker(values), [], 0
        data = text.encode()
        while at < len(data):
            size = rng.randint(1, 40)
            out.append(masker.feed(data[at : at + size]))
            at += size
        out.append(masker.flush())
        assert b"".join(out).decode() == expected
        assert SECRET.encode() not in b"".join(out)


def test_text_that_cannot_start_a_value_is_not_held_back() -> None:
    masker = LogMasker(["zzzz-secret"])

    assert masker.feed(b"progress 10%") == b"progress 10%"
    assert masker.feed(b" zzz") == b" "
    assert masker.feed(b"z-secret!") == b"***!"
    assert masker.mask("a note") == "a note" and masker.flush() == b""


def test_a_note_between_pieces_keeps_what_was_held_back() -> None:
    masker = LogMasker(["zzzz-secret"])

    assert masker.feed(b"x zzzz-se") == b"x "
    assert masker.mask("zzzz-secret") == MASK
    assert masker.feed(b"cret\n") == b"***\n"


def test_the_masker_never_shows_its_values() -> None:
    masker = LogMasker([SECRET])

    assert SECRET not in repr(masker)
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(masker)


def test_overlapping_values_are_masked_as_one_and_no_part_of_either_shows() -> None:
    values = ["abcdef12", "ef12ghij"]  # the first's end is the second's start
    text = "x abcdef12ghij y ef12ghij\n"
    masker = LogMasker(values)

    assert masker.mask(text) == f"x {MASK} y {MASK}\n"
    for cut in range(len(text) + 1):
        fed = LogMasker(values)
        assert fed.feed(text[:cut].encode()) + fed.feed(text[cut:].encode()) + fed.flush() == (
            masker.mask(text).encode()
        ), cut


def test_maskers_of_the_same_values_share_their_forms_but_not_what_they_hold_back() -> None:
    first = LogMasker(["zzzz-secret", SECRET])
    second = LogMasker([SECRET, "zzzz-secret", SECRET])  # same set: compiled once

    assert compiled_forms(["zzzz-secret", SECRET]) is compiled_forms([SECRET, "zzzz-secret"])
    assert compiled_forms(["zzzz-secret"]) is not compiled_forms(["zzzz-secret", SECRET])
    assert first.feed(b"x zzzz-se") == b"x "
    assert second.feed(b"cret\n") == b"cret\n"
    assert first.feed(b"cret\n") == b"***\n"
