"""One event to one subscription: tried, logged, retried with back-off until it is delivered
or its time is up (then parked by a command, so the decision is an event)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import asyncpg
import httpx

from adapters.outbound import attempts
from adapters.outbound.attempt_log import AttemptLog
from adapters.outbound.backoff import Backoff
from adapters.outbound.sender import Answer, send
from adapters.outbound.targets import AllowList
from commands.bus import CommandResult
from commands.context import CommandContext
from commands.subscriptions import DELIVERER, DisableSubscription, ParkDelivery

Dispatch = Callable[[object, CommandContext], Awaitable[CommandResult]]
KEEP_ALIVE_S = 10.0
"""Longest wait without telling JetStream the message is still being worked on."""


@dataclass(frozen=True)
class Live:
    """An enabled subscription as the deliverer needs it (its secret opened)."""

    id: UUID
    project_id: UUID
    url: str
    event_types: tuple[str, ...]
    key: bytes
    created_at: datetime
    version: int
    """Its stream's version when it was (re)started: later own events may end it."""
    created_position: int = 0
    """Its creation event's position: nothing at or before it is sent to it (0: no floor)."""
    transport: Callable[[Message], Awaitable[Answer]] | None = None
    """How a message goes out instead of a signed POST to `url` (a notification's channel)."""


@dataclass(frozen=True)
class Outbound:
    """What every delivery shares: the pool for the log, HTTP, policy, and the command bus."""

    pool: asyncpg.Pool
    client: httpx.AsyncClient
    allow: AllowList
    backoff: Backoff
    disable_after_parked: int
    dispatch: Dispatch
    log: AttemptLog
    """Where attempts are written, together."""


@dataclass(frozen=True)
class Message:
    message_id: str
    position: int
    event_type: str
    body: bytes


async def deliver(
    out: Outbound,
    sub: Live,
    message: Message,
    stop: asyncio.Event,
    keep_alive: Callable[[], Awaitable[None]] | None = None,
) -> tuple[Answer, int] | None:
    """(last answer, attempts) once delivered or given up; None if stopped first."""
    first, attempt = time.monotonic(), 0
    while True:
        attempt += 1
        at = datetime.now(UTC)
        if sub.transport is not None:
            answer = await sub.transport(message)
        else:
            answer = await send(
                out.client, sub.url, out.allow, sub.key, message.message_id, message.body
            )
        wait = None if answer.ok else out.backoff.next_wait(attempt, time.monotonic() - first)
        outcome: attempts.Outcome = (
            "delivered" if answer.ok else "parked" if wait is None else "retrying"
        )
        written = attempts.row(
            subscription_id=sub.id,
            message_id=message.message_id,
            event_position=message.position,
            event_type=message.event_type,
            attempt=attempt,
            attempted_at=at,
            status_code=answer.status_code,
            error=answer.error,
            duration_ms=answer.duration_ms,
            outcome=outcome,
        )
        await out.log.record(written)
        if wait is None:
            return answer, attempt
        if await _stopped_within(stop, wait, keep_alive):
            return None


async def _stopped_within(
    stop: asyncio.Event, wait: float, keep_alive: Callable[[], Awaitable[None]] | None
) -> bool:
    deadline = time.monotonic() + wait
    while (left := deadline - time.monotonic()) > 0:
        if keep_alive is not None:
            await keep_alive()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), min(left, KEEP_ALIVE_S))
        if stop.is_set():
            return True
    return stop.is_set()


def _context(cause: str) -> CommandContext:
    return CommandContext(
        principal=DELIVERER,
        at=datetime.now(UTC),
        correlation_id=f"outbound:{cause}",
        causation_id=cause,
    )


async def park(out: Outbound, sub: Live, message: Message, answer: Answer, tries: int) -> None:
    command = ParkDelivery(
        subscription_id=sub.id,
        message_id=message.message_id,
        event_position=message.position,
        attempts=tries,
        last_status=answer.status_code,
        last_error=answer.error,
    )
    await out.dispatch(command, _context(message.message_id))


async def disable(out: Outbound, sub: Live, reason: str) -> None:
    command = DisableSubscription(subscription_id=sub.id, reason=reason)
    await out.dispatch(command, _context(str(uuid.uuid4())))
