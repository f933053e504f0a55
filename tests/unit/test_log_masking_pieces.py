"""The runner's log masker fed real-sized reads: a piece longer than the longest form is scanned
where it lies and only the held-back tail is looked at across the boundary, so the output must
be the same as masking the whole text at once, wherever the reads are cut."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.runner.masking import LogMasker

TOKEN = "tok-9f8e7d6c5b4a"
MULTI = "-----BEGIN KEY-----\nAAAAlineONE\nBBBBlineTWO\n-----END KEY-----"
VALUES = [TOKEN, MULTI, 'p@ss"w/rd']
SHOWN = [
    TOKEN,
    MULTI,
    json.dumps(MULTI)[1:-1],
    quote('p@ss"w/rd', safe=""),
    base64.b64encode(TOKEN.encode()).decode(),
    base64.b64encode(f"u:{TOKEN}".encode()).decode(),  # inside base64, off a group's start
    base64.b64encode(f"us:{MULTI}".encode()).decode(),
    "AAAAlineONE",  # one line of the multi-line value
    "-----BEGIN KEY-----\nAAAAlineONE\nCCCC",  # lines of it, the value itself cut short
    TOKEN[:-1],  # a start of a value that never completes: held back, then let go
    "tok-tok-9f8e7d6c5b4a",
]
FILLER = ["compiling module ", "ok\n", "t", "-", "A", " ", "\n", "[ 1234] linking src/app.py\n"]


def _fed(masker: LogMasker, data: bytes, cuts: list[int]) -> bytes:
    out, at = [], 0
    for cut in [*sorted(set(cuts)), len(data)]:
        out.append(masker.feed(data[at:cut]))
        at = cut
    out.append(masker.flush())
    return b"".join(out)


def test_a_log_cut_in_two_reads_anywhere_is_masked_as_a_whole() -> None:
    text = "".join(f"{FILLER[i % len(FILLER)] * 9}{shown}" for i, shown in enumerate(SHOWN))
    data = text.encode()
    masker = LogMasker(VALUES)
    expected = masker.mask(text).encode()
    assert masker.hold_max < len(data) // 4  # so both reads are often longer than a form

    for cut in range(len(data) + 1):
        assert _fed(masker, data, [cut]) == expected, cut


@settings(max_examples=300, deadline=None)
@given(
    parts=st.lists(st.sampled_from(SHOWN + FILLER), min_size=1, max_size=60),
    data=st.data(),
)
def test_any_reads_of_any_log_give_what_masking_it_whole_gives(
    parts: list[str], data: st.DataObject
) -> None:
    text = "".join(parts)
    raw = text.encode()
    cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=6))
    masker = LogMasker(VALUES)

    fed = _fed(masker, raw, cuts)

    assert fed == masker.mask(text).encode()
    assert TOKEN.encode() not in fed and b"lineONE" not in fed
