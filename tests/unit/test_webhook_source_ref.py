"""A delivery's source ref read as an id by a kept function: it must read every text as the
parse it replaced did (a UUID spelled as `str` spells it, in any case; anything else a name)."""

from __future__ import annotations

from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from adapters.webhooks.sources import source_id_in


def _parsed(ref: str) -> UUID | None:
    """`_by_id`'s parse before it was kept."""
    try:
        source_id = UUID(ref)
    except ValueError:
        return None
    return source_id if str(source_id) == ref.lower() else None


@st.composite
def _refs(draw: st.DrawFn) -> str:
    """Ids as sent (any case, with braces, a urn, bare hex, cut or padded), slugs, any text."""
    spelled = str(draw(st.uuids()))
    shape = draw(st.sampled_from(["id", "upper", "bare", "braces", "urn", "cut", "pad", "text"]))
    return {
        "id": spelled,
        "upper": spelled.upper(),
        "bare": spelled.replace("-", ""),
        "braces": "{" + spelled + "}",
        "urn": "urn:uuid:" + spelled,
        "cut": spelled[: draw(st.integers(0, 35))],
        "pad": draw(st.sampled_from([" ", "x", "\t"])) + spelled,
        "text": draw(st.text(max_size=40)),
    }[shape]


@given(_refs())
def test_a_ref_reads_as_the_parse_it_replaced(ref: str) -> None:
    assert source_id_in(ref) == _parsed(ref)
    assert source_id_in(ref) == _parsed(ref)  # kept: asked again, the same


def test_only_the_spelled_id_is_an_id() -> None:
    spelled = "6d1c2f0e-5b7a-4c39-9f0b-2a8e4d7c1b55"
    assert source_id_in(spelled) == UUID(spelled)
    assert source_id_in(spelled.upper()) == UUID(spelled)
    assert source_id_in(spelled.replace("-", "")) is None  # a slug may look like that
    assert source_id_in("{" + spelled + "}") is None
