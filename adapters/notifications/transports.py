"""Sending one notification over its rule's channel, as one attempt of the outbound machinery:
the same SSRF check (the target resolved, refused when not public unless allow-listed, then
reached at the address checked), the same answer shape. An e-mail's status is the SMTP reply
code (250: accepted), which reads as success like an HTTP 2xx.

Secrets the channel names (Slack's URL, the SMTP password) are revealed for each attempt and
kept nowhere else.
"""

from __future__ import annotations

import asyncio
import socket
import time
from email.message import EmailMessage

import aiosmtplib
import httpx

from adapters.outbound.sender import USER_AGENT, Answer
from adapters.outbound.targets import AllowList, Blocked, resolve
from domain.notification_channel import EmailChannel


class _Clock:
    def __init__(self) -> None:
        self.started = time.monotonic()

    def ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)


async def post_slack(client: httpx.AsyncClient, allow: AllowList, url: str, body: bytes) -> Answer:
    clock = _Clock()
    try:
        target = await resolve(url, allow)
    except Blocked as refused:
        return Answer(None, f"blocked: {refused}", clock.ms(), blocked=True)
    headers = {
        "content-type": "application/json",
        "host": target.host_header,
        "user-agent": USER_AGENT,
    }
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    try:
        response = await client.post(
            target.pinned_url, content=body, headers=headers, extensions=extensions
        )
    except httpx.HTTPError as exc:
        return Answer(None, f"{type(exc).__name__}: {exc}"[:500], clock.ms())
    ok = 200 <= response.status_code < 300
    # Slack answers a refused body with a short reason (`invalid_payload`, `no_text`, ...).
    error = "" if ok else f"HTTP {response.status_code}: {response.text[:200]}"
    return Answer(response.status_code, error, clock.ms())


async def send_email(
    allow: AllowList,
    channel: EmailChannel,
    password: str | None,
    message: EmailMessage,
    timeout_s: float,
) -> Answer:
    clock = _Clock()
    try:
        target = await resolve(f"http://{channel.host}:{channel.port}/", allow)
    except Blocked as refused:
        return Answer(None, f"blocked: {refused}", clock.ms(), blocked=True)
    try:
        sock = await _connect(target.address, channel.port, timeout_s)
    except OSError as exc:
        return Answer(None, f"cannot connect: {exc.strerror or exc}"[:500], clock.ms())
    smtp = aiosmtplib.SMTP(
        hostname=target.host,  # for the certificate when STARTTLS is used
        sock=sock,
        start_tls=channel.starttls,
        timeout=timeout_s,
    )
    try:
        async with smtp:
            if channel.username is not None and password is not None:
                await smtp.login(channel.username, password)
            refused, _reply = await smtp.send_message(message)
    except aiosmtplib.SMTPResponseException as exc:
        return Answer(_code(exc.code), f"SMTP {exc.code}: {exc.message}"[:500], clock.ms())
    except (aiosmtplib.SMTPException, OSError) as exc:
        return Answer(None, f"{type(exc).__name__}: {exc}"[:500], clock.ms())
    finally:
        sock.close()
    # Some recipients refused, others took it: sent (a re-send would repeat it to those).
    error = f"refused recipients: {', '.join(sorted(refused))}"[:500] if refused else ""
    return Answer(250, error, clock.ms())


def _code(code: int) -> int | None:
    return code if 100 <= code <= 599 else None


async def _connect(address: str, port: int, timeout_s: float) -> socket.socket:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        await asyncio.wait_for(
            asyncio.get_running_loop().sock_connect(sock, (address, port)), timeout_s
        )
    except (OSError, TimeoutError) as exc:
        sock.close()
        raise OSError(str(exc) or "timed out") from None
    return sock
