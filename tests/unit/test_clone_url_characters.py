"""A clone URL with a space or a control character in it is refused, whichever the character."""

from __future__ import annotations

import sys

import pytest

from domain.errors import InvalidValue
from domain.run_values import valid_clone_url


def refused(url: str) -> bool:
    try:
        valid_clone_url(url)
    except InvalidValue:
        return True
    return False


def test_every_code_point_is_judged_as_isspace_or_below_32_says() -> None:
    for code in range(sys.maxunicode + 1):
        c = chr(code)
        expected = c.isspace() or code < 32
        assert refused(f"https://example.com/a{c}b.git") is expected, hex(code)


@pytest.mark.parametrize("url", ["https://github.com/o/r.git", "git@github.com:o/r.git"])
def test_a_plain_clone_url_stands(url: str) -> None:
    assert valid_clone_url(url) == url
