"""Where a delivery may go: SSRF-safe by default.

The URL's host is resolved before every request and refused when any of its addresses is
private, loopback, link-local, multicast, reserved or unspecified, unless an allow-list entry
(`FLOWLEDGER_OUTBOUND_ALLOW`: host names, addresses or CIDR networks) names it. The request
then goes to the address checked, not to a second lookup (no DNS rebinding between the two).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Blocked(Exception):
    """The target is not allowed (or cannot be resolved); the message says why."""


@dataclass(frozen=True)
class AllowList:
    hosts: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowList:
        hosts, networks = set(), []
        for entry in (e.strip() for e in entries):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.add(entry.lower().rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def names(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.hosts

    def covers(self, address: Address) -> bool:
        return any(address in network for network in self.networks)


@dataclass(frozen=True)
class Target:
    """A URL with the address it was checked at."""

    url: str
    host: str
    address: str
    port: int
    scheme: str

    @property
    def pinned_url(self) -> str:
        """The URL with the checked address for its host (the Host header keeps the name)."""
        parts = urlsplit(self.url)
        literal = f"[{self.address}]" if ":" in self.address else self.address
        netloc = f"{literal}:{self.port}"
        return parts._replace(netloc=netloc).geturl()

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        return self.host if self.port == default else f"{self.host}:{self.port}"


def forbidden(address: Address) -> bool:
    """Not a public address: what a webhook must not reach unless allowed."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


async def resolve(url: str, allow: AllowList) -> Target:
    """The address to send `url`'s request to, or Blocked."""
    parts = urlsplit(url)
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host:
        raise Blocked("not an http(s) URL")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = [ipaddress.ip_address(host)]  # a literal needs no lookup
    except ValueError:
        addresses = await _lookup(host, port)
    if not addresses:
        raise Blocked(f"{host} has no address")
    allowed_host = allow.names(host)
    for address in addresses:
        if forbidden(address) and not (allowed_host or allow.covers(address)):
            raise Blocked(
                f"{host} resolves to {address}, a non-public address; name it in "
                "FLOWLEDGER_OUTBOUND_ALLOW to allow it"
            )
    return Target(url, host, str(addresses[0]), port, parts.scheme)


async def _lookup(host: str, port: int) -> list[Address]:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except OSError as exc:
        raise Blocked(f"cannot resolve {host}: {exc.strerror or exc}") from None
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
