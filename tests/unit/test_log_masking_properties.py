"""The log masker against random secret values, shown in random forms at random places of a
random log read in random pieces: no value and no encoding of one is ever in what is sent."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, quote_plus

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.runner.masking import LogMasker
from adapters.runner.secret_forms import MIN_FORM_CHARS

# No `*`: the mask itself must not spell a value.
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="*"))
VALUES = st.lists(TEXT.filter(bool), min_size=1, max_size=4)


def encodings(value: str) -> list[str]:
    """How a step may print `value`, computed here apart from the masker's own list."""
    raw = value.encode()
    return [
        value,
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode(),
        quote(value, safe=""),
        quote_plus(value, safe=""),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
    ]


@st.composite
def logs(draw: st.DrawFn) -> tuple[list[str], bytes, list[int]]:
    values = draw(VALUES)
    shown = [form for value in values for form in encodings(value)]
    parts = draw(st.lists(st.one_of(TEXT, st.sampled_from(shown)), max_size=12))
    data = "".join(parts).encode()
    cuts = draw(st.lists(st.integers(0, len(data)), max_size=8))
    return values, data, sorted(set(cuts))


def _fed(masker: LogMasker, data: bytes, cuts: list[int]) -> bytes:
    out, at = [], 0
    for cut in [*cuts, len(data)]:
        out.append(masker.feed(data[at:cut]))
        at = cut
    out.append(masker.flush())
    return b"".join(out)


@settings(max_examples=400, deadline=None)
@given(log=logs())
def test_no_value_nor_an_encoding_of_one_is_ever_sent(
    log: tuple[list[str], bytes, list[int]],
) -> None:
    values, data, cuts = log
    masker = LogMasker(values)

    sent = _fed(masker, data, cuts)

    for value in values:
        assert value.encode() not in sent
        for form in encodings(value):
            if len(form) >= MIN_FORM_CHARS:
                assert form.encode() not in sent
    assert sent == masker.mask(data.decode()).encode()  # wherever the reads were cut


@settings(max_examples=200, deadline=None)
@given(
    value=TEXT.filter(lambda v: len(v.encode()) >= 2),
    before=TEXT,
    data=st.data(),
)
def test_a_value_cut_inside_is_masked_whole_and_nothing_sent_early_is_taken_back(
    value: str, before: str, data: st.DataObject
) -> None:
    raw = value.encode()
    cut = data.draw(st.integers(1, len(raw) - 1))
    masker = LogMasker([value])

    first = masker.feed(before.encode() + raw[:cut])
    rest = masker.feed(raw[cut:]) + masker.flush()

    # What went early is never taken back: it is the start of the whole text masked.
    assert first + rest == masker.mask(before + value).encode()
    assert raw not in first + rest
