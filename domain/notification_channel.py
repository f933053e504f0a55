"""A notification rule's channel: a Slack-compatible incoming webhook, or e-mail over SMTP.

Credentials are never part of one: a channel names project secrets (the webhook URL, which
embeds Slack's token; the SMTP password; recipients who are people) and the deliverer reveals
them when it sends.
"""

from __future__ import annotations

import re

import msgspec

from domain.errors import InvalidValue
from domain.limits import clean
from domain.secret import valid_secret_name
from domain.subscription import valid_url

RECIPIENTS_MAX = 20
HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\]")
ADDRESS = re.compile(r"[^@\s<>,;\"]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")


class SlackChannel(
    msgspec.Struct, frozen=True, kw_only=True, tag="slack", forbid_unknown_fields=True
):
    """A Slack incoming webhook (or any service taking Slack's body): its URL given as is, or,
    better (Slack's URL is itself the credential), the name of the project secret holding it."""

    url: str | None = None
    url_secret: str | None = None


class EmailChannel(
    msgspec.Struct, frozen=True, kw_only=True, tag="email", forbid_unknown_fields=True
):
    host: str
    port: int = 587
    sender: str
    to: tuple[str, ...] = ()
    """Recipients kept in the rule's events, forever: role addresses (ops@…), not people's."""
    starttls: bool = True
    username: str | None = None
    password_secret: str | None = None
    """The name of the project secret holding the SMTP password (never the password)."""
    to_secret: str | None = None
    """Instead of `to`: the project secret holding the recipients, comma-separated (people's
    addresses are personal data, which no event may keep)."""


Channel = SlackChannel | EmailChannel


def secret_names(channel: Channel) -> tuple[tuple[str, str], ...]:
    """(field, secret name) for each project secret the channel needs revealed."""
    if isinstance(channel, SlackChannel):
        return (("channel.url_secret", channel.url_secret),) if channel.url_secret else ()
    named = (
        ("channel.password_secret", channel.password_secret),
        ("channel.to_secret", channel.to_secret),
    )
    return tuple((field, name) for field, name in named if name)


def valid_channel(channel: Channel) -> Channel:
    if isinstance(channel, SlackChannel):
        if (channel.url is None) == (channel.url_secret is None):
            raise InvalidValue("channel", "a Slack channel needs exactly one of url, url_secret")
        if channel.url is not None:
            try:
                return SlackChannel(url=valid_url(channel.url))
            except InvalidValue as bad:
                raise InvalidValue("channel.url", bad.reason) from None
        return SlackChannel(url_secret=valid_secret_name("channel.url_secret", channel.url_secret))
    if not HOST.fullmatch(channel.host):
        raise InvalidValue("channel.host", "a host name or address")
    if not 1 <= channel.port <= 65535:
        raise InvalidValue("channel.port", "1 to 65535")
    _address("channel.sender", channel.sender)
    if bool(channel.to) == (channel.to_secret is not None):
        raise InvalidValue("channel.to", "give exactly one of to, to_secret")
    if channel.to_secret is not None:
        valid_secret_name("channel.to_secret", channel.to_secret)
    to = recipients("channel.to", channel.to)
    if (channel.username is None) != (channel.password_secret is None):
        raise InvalidValue("channel", "username and password_secret go together")
    if channel.username is not None and not 1 <= len(clean("username", channel.username)) <= 200:
        raise InvalidValue("channel.username", "1 to 200 characters")
    if channel.password_secret is not None:
        valid_secret_name("channel.password_secret", channel.password_secret)
    return msgspec.structs.replace(channel, to=to)


def recipients(field: str, addresses: tuple[str, ...]) -> tuple[str, ...]:
    """The addresses, each checked, once each (an empty tuple stays empty)."""
    unique = tuple(dict.fromkeys(a.strip() for a in addresses))
    if len(unique) > RECIPIENTS_MAX:
        raise InvalidValue(field, f"at most {RECIPIENTS_MAX} e-mail addresses")
    for address in unique:
        _address(field, address)
    return unique


def _address(field: str, address: str) -> None:
    if not ADDRESS.fullmatch(address):
        raise InvalidValue(field, f"{address[:60]!r} is not an e-mail address (name@host)")
