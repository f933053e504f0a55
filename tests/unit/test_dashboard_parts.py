"""The dashboard's pure parts: ANSI colours made safe HTML, WebSocket tickets, CSRF tokens."""

from __future__ import annotations

from adapters.dashboard.ansi import to_html
from adapters.dashboard.session import csrf_token
from adapters.dashboard.tickets import PREFIX, Tickets


def test_colours_become_classes_and_text_is_escaped() -> None:
    html = to_html("\x1b[1;31merror\x1b[0m: <script>alert(1)</script> & done")

    assert html == (
        '<span class="ansi-bold ansi-fg-red">error</span>'
        ": &lt;script&gt;alert(1)&lt;/script&gt; &amp; done"
    )


def test_other_escape_sequences_are_dropped_and_bright_colours_kept() -> None:
    assert to_html("\x1b[2J\x1b]0;title\x07\x1b[92mok\x1b[39m plain") == (
        '<span class="ansi-fg-green">ok</span> plain'
    )


def test_a_ticket_stands_for_its_credential_until_unused_for_its_ttl() -> None:
    tickets = Tickets(ttl_s=60)
    ticket = tickets.issue("flk_key")

    assert ticket.startswith(PREFIX)
    assert tickets.credential(ticket) == "flk_key"
    assert tickets.credential("flk_other") == "flk_other"  # not a ticket: passed through
    assert tickets.credential(PREFIX + "forged") == ""
    expired = Tickets(ttl_s=-1)
    assert expired.credential(expired.issue("flk_key")) == ""


def test_the_csrf_token_depends_on_the_credential() -> None:
    assert csrf_token("a") == csrf_token("a") != csrf_token("b")
    assert len(csrf_token("a")) == 64
