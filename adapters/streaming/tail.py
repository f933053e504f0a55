"""`flowledger tail`: events from the relay's JetStream stream, filtered, printed live."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Callable
from datetime import UTC
from typing import TYPE_CHECKING, TextIO
from uuid import UUID

import msgspec
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from adapters.platform.embedded.nats import running_url
from adapters.platform.runtime import running
from adapters.streaming.nats import NatsConnection
from adapters.streaming.relay import message
from adapters.streaming.relay.subjects import DEFAULT_PREFIX, filter_subject
from domain.envelope import EventEnvelope

if TYPE_CHECKING:
    from adapters.platform.settings import Settings

CONNECT_TIMEOUT_S = 5.0
HEARTBEAT_S = 2.0
"""Two missed heartbeats and the ordered consumer recreates itself (after a NATS restart)."""
FIELDS_SHOWN = 4
VALUE_WIDTH = 40


class TailError(Exception):
    """Something the user can fix: NATS unreachable, no stream (no relay has run yet)."""


class Tail(msgspec.Struct, frozen=True, kw_only=True):
    nats_url: str
    stream: str
    subject: str
    """Which events: a filter built by `subjects.filter_subject`."""
    after: int | None = None
    """Start after this global position; None: only events published from now on."""
    as_json: bool = False


def for_settings(
    settings: Settings,
    *,
    run: UUID | None = None,
    pipeline: UUID | None = None,
    project: UUID | None = None,
    event_type: str | None = None,
    after: int | None = None,
    as_json: bool = False,
) -> Tail:
    """What to tail: FLOWLEDGER_NATS_URL, else the embedded NATS of a running `flowledger up`."""
    live = running(settings.data_dir)
    url = settings.nats_url or (live.nats_url if live else running_url(settings.data_dir))
    if url is None:
        raise TailError(
            "no NATS to tail: FLOWLEDGER_NATS_URL is unset and no `flowledger up` is running "
            f"with its embedded NATS in {settings.data_dir} (set FLOWLEDGER_DATA_DIR to its "
            "data folder, or FLOWLEDGER_NATS_URL)"
        )
    subject = filter_subject(
        DEFAULT_PREFIX,
        project=None if project is None else str(project),
        pipeline=None if pipeline is None else str(pipeline),
        stream_type=None if run is None else "run",
        stream_id=None if run is None else str(run),
        event_type=event_type,
    )
    return Tail(
        nats_url=url, stream=settings.relay_stream, subject=subject, after=after, as_json=as_json
    )


def run(tail: Tail, out: TextIO, note: Callable[[str], None]) -> None:
    """Print until SIGINT or SIGTERM, then return normally (raises TailError)."""
    try:
        asyncio.run(_main(tail, out, note))
    except BrokenPipeError:
        # The reader went away (`flowledger tail | head`): that ends the tail too. Point stdout
        # at /dev/null so the interpreter's last flush has nowhere to fail.
        os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())


async def _main(tail: Tail, out: TextIO, note: Callable[[str], None]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    session = asyncio.create_task(_session(tail, out, note))
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({session, stopping}, return_when=asyncio.FIRST_COMPLETED)
    for task in (session, stopping):
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await session  # raises what ended the session, if not the stop


async def _session(tail: Tail, out: TextIO, note: Callable[[str], None]) -> None:
    # Once connected, it reconnects for ever: a NATS restart must not end the tail. Quiet:
    # a tail that waits says nothing.
    link = NatsConnection(tail.nats_url, name="flowledger-tail", quiet=True)
    try:
        if not await link.start(CONNECT_TIMEOUT_S):
            raise TailError(f"cannot reach NATS at {tail.nats_url}")
        js = link.jetstream()
        floor, start = await _starting_point(js, tail, note)
        sub = await js.subscribe(
            tail.subject,
            stream=tail.stream,
            ordered_consumer=True,
            idle_heartbeat=HEARTBEAT_S,
            config=ConsumerConfig(
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start
            ),
        )
        note(f"tailing {tail.subject} on {tail.stream} (Ctrl-C to stop)")
        await _print(sub.messages, floor, tail.as_json, out)
    finally:
        # Nothing was published: nothing to drain.
        await link.close(drain=False)


async def _starting_point(
    js: JetStreamContext, tail: Tail, note: Callable[[str], None]
) -> tuple[int, int]:
    """The position printing starts after, and the stream sequence to deliver from."""
    try:
        state = (await js.stream_info(tail.stream)).state
    except NotFoundError:
        raise TailError(
            f"no stream {tail.stream} on NATS: has `flowledger relay` (or `up`) run yet?"
        ) from None
    end = state.last_seq + 1
    if state.messages == 0:
        return tail.after or 0, end
    if tail.after is None:
        return await _position(js, tail.stream, state.last_seq) or 0, end
    # Positions rise with sequences (the relay publishes in order): bisect for the first
    # message past `after`.
    low, high = state.first_seq, end
    while low < high:
        middle = (low + high) // 2
        found = await _next_message(js, tail.stream, middle)
        if found is not None and found[1] <= tail.after:
            low = found[0] + 1
        else:
            high = middle
    oldest = await _position(js, tail.stream, state.first_seq)
    if low == state.first_seq and oldest is not None and oldest > tail.after + 1:
        note(
            f"events {tail.after + 1} to {oldest - 1} are no longer on NATS (its retention); "
            "the API still has them"
        )
    return tail.after, low


async def _next_message(js: JetStreamContext, stream: str, seq: int) -> tuple[int, int] | None:
    """(sequence, position) of the first message at or after `seq`, if any."""
    try:
        raw = await js.get_msg(stream, seq=seq, subject=">", next=True)
    except NotFoundError:
        return None
    return raw.seq or seq, _header_position(raw.headers)


async def _position(js: JetStreamContext, stream: str, seq: int) -> int | None:
    found = await _next_message(js, stream, seq)
    return None if found is None else found[1]


def _header_position(headers: dict[str, str] | None) -> int:
    try:
        return int((headers or {})[message.POSITION])
    except (KeyError, ValueError):
        return 0


async def _print(messages: AsyncIterator[Msg], floor: int, as_json: bool, out: TextIO) -> None:
    # An ordered consumer that recreates itself may deliver a message again: skip repeats.
    async for msg in messages:
        position = _header_position(msg.headers)
        if position <= floor:
            continue
        floor = position
        out.write((msg.data.decode(errors="replace") if as_json else line(msg)) + "\n")
        out.flush()


_decoder = msgspec.json.Decoder(EventEnvelope)


def line(msg: Msg) -> str:
    """One event, compact: when, position, stream, type, and its first few fields of data."""
    try:
        event = _decoder.decode(msg.data)
    except msgspec.DecodeError:
        return f"{msg.subject}  (not an event envelope)"
    at = event.recorded_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    head = f"{at}  {event.position}  {event.stream_type} {event.stream_id}  {event.type}"
    if (msg.headers or {}).get(message.DATA_OMITTED):
        return f"{head}  (data omitted: too large)"
    fields = [
        f"{key}={_compact(value)}"
        for key, value in event.data.items()
        if key != "occurred_at" and value not in (None, "", [], {})
    ]
    return "  ".join([head, " ".join(fields[:FIELDS_SHOWN])]).rstrip()


def _compact(value: object) -> str:
    text = value if isinstance(value, str) else msgspec.json.encode(value).decode()
    text = text.replace("\n", "\\n")
    if len(text) > VALUE_WIDTH:
        text = text[: VALUE_WIDTH - 1] + "…"
    return '"' + text.replace('"', '\\"') + '"' if " " in text else text
