"""A notification's words, and the two shapes they are sent in.

Slack: an incoming webhook's JSON body, `text` (the fallback shown in notifications) and
`blocks` (https://api.slack.com/messaging/webhooks, https://api.slack.com/reference/block-kit/blocks):
a `header` (plain text, at most 150 characters), a `section` of mrkdwn (at most 3000), and a
`context` with the link. E-mail: a plain-text message (RFC 5322) marked auto-generated
(RFC 3834) so that vacation responders stay quiet.

Only what events already hold goes in (names, statuses, reasons), never a secret's value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import msgspec

from domain.notification_channel import EmailChannel

HEADER_MAX = 150
SECTION_MAX = 3000


@dataclass(frozen=True)
class Notice:
    trigger: str
    title: str
    lines: tuple[str, ...]
    link: str
    link_text: str


def _mrkdwn(text: str) -> str:
    """Slack's escaping: only &, < and > are control characters in message text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_body(notice: Notice) -> bytes:
    detail = "\n".join(_mrkdwn(line) for line in notice.lines) or _mrkdwn(notice.title)
    return msgspec.json.encode(
        {
            "text": f"{_mrkdwn(notice.title)}: {notice.link}",
            "blocks": [
                {
                    "type": "header",
                    "text": {"type": "plain_text", "text": _cut(notice.title, HEADER_MAX)},
                },
                {"type": "section", "text": {"type": "mrkdwn", "text": _cut(detail, SECTION_MAX)}},
                {
                    "type": "context",
                    "elements": [
                        {"type": "mrkdwn", "text": f"<{notice.link}|{_mrkdwn(notice.link_text)}>"}
                    ],
                },
            ],
        }
    )


def email(
    notice: Notice, channel: EmailChannel, to: tuple[str, ...], message_id: str
) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = f"[flowledger] {notice.title}"
    message["From"] = channel.sender
    message["To"] = ", ".join(to)
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(idstring=message_id, domain="flowledger")
    message["Auto-Submitted"] = "auto-generated"
    message["X-Flowledger-Trigger"] = notice.trigger
    body = [notice.title, "", *notice.lines, "", f"{notice.link_text}: {notice.link}", ""]
    message.set_content("\n".join(body))
    return message
