"""Text a column can take: no NUL, no lone surrogate; refused (`clean`) or replaced (`cut`)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import InvalidValue
from domain.limits import clean, cut

UNCLEAN = re.compile(r"[\x00\ud800-\udfff]")
# Surrogates and NUL among ASCII and other text, so each path is taken.
TEXT = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=40) | st.text(
    alphabet="ab\x00\ud800\udfffé€/", max_size=40
)


@settings(max_examples=400)
@given(value=TEXT)
def test_clean_refuses_exactly_what_holds_a_nul_or_a_lone_surrogate(value: str) -> None:
    if UNCLEAN.search(value):
        with pytest.raises(InvalidValue):
            clean("f", value)
    else:
        assert clean("f", value) is value


@settings(max_examples=400)
@given(value=TEXT, limit=st.integers(1, 50))
def test_cut_replaces_them_and_marks_what_it_shortens(value: str, limit: int) -> None:
    replaced = UNCLEAN.sub("\ufffd", value)
    expected = replaced if len(replaced) <= limit else replaced[: limit - 1] + "\u2026"
    assert cut(value, limit) == expected
