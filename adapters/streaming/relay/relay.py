"""Publishes every committed event, in position order, to one JetStream stream."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.errors import NoStreamResponseError, NotFoundError
from opentelemetry.trace import SpanKind

from adapters.store import reader
from adapters.store.locks import SESSION_KEEPALIVES, lock_key, while_linked
from adapters.store.notifier import HeadWatcher, wait_at_most
from adapters.streaming.nats import NatsConnection
from adapters.streaming.relay import ledger, message
from adapters.streaming.relay.config import RelayConfig
from adapters.streaming.relay.pipeline import Outgoing, Pipeline, Stopped
from adapters.streaming.relay.subjects import Owner, learn, subject
from adapters.telemetry.metrics import RELAY_PUBLISHED
from adapters.telemetry.tracing import current_traceparent, span
from domain.envelope import EventEnvelope

log = logging.getLogger(__name__)

LOCK_POLL_S = 1.0
ACK_TIMEOUT_S = 5.0
IDLE_WAIT_S = 1.0
MAX_BACKOFF_S = 5.0
OWNERS_KEPT = 100_000
"""Streams whose owner the relay remembers between batches."""
COMMAND_TIMEOUT_S = 20.0
"""Every relay query is short. After a kill -9 of the postmaster an orphaned backend can keep the
connection open while never answering: a bound turns that silent stall into a reconnect."""


class Relay:
    """One active relay per stream name across processes (a session advisory lock)."""

    def __init__(
        self,
        database_url: str,
        nats_url: str,
        config: RelayConfig,
        *,
        nats: NatsConnection | None = None,
    ) -> None:
        self.database_url = database_url
        self.nats_url = nats_url
        self.config = config
        self._shared_nats = nats
        """The process's connection, when it shares one (`up`): the process closes it."""
        self.active = asyncio.Event()
        """Set while this relay holds the lock and publishes."""
        self.published = 0
        """Positions acknowledged by JetStream since start (republishes included)."""

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until `stop` is set, reconnecting to either server after any failure."""
        delay = 0.1
        while not stop.is_set():
            try:
                await self._serve(stop)
                return
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if self.active.is_set():
                    delay = 0.1  # it was publishing: a new outage starts the back-off afresh
                log.warning("relay %s: %s; retrying in %.1fs", self.config.stream, error, delay)
            finally:
                self.active.clear()
            await wait_at_most(stop, delay)
            delay = min(delay * 2, MAX_BACKOFF_S)

    async def _serve(self, stop: asyncio.Event) -> None:
        async with contextlib.AsyncExitStack() as stack:
            conn = await asyncpg.connect(
                self.database_url,
                timeout=5,
                command_timeout=COMMAND_TIMEOUT_S,
                server_settings=SESSION_KEEPALIVES,
            )
            stack.push_async_callback(_close, conn)
            if not await self._lock(conn, stop):
                return
            self.active.set()
            watcher = HeadWatcher(self.database_url)
            await watcher.start()
            stack.push_async_callback(watcher.stop)
            link = self._shared_nats
            if link is None:
                # Quiet: the publish loop reports an outage, once per failed position.
                link = NatsConnection(
                    self.nats_url, name=f"flowledger-relay-{self.config.stream}", quiet=True
                )
                # Closed, not drained: every publish was acknowledged before the checkpoint
                # moved.
                stack.push_async_callback(link.close, drain=False)
            if not await link.until_connected(stop):
                return
            nc, js = link.client, link.jetstream()
            await _ensure_stream(js, self.config)
            await while_linked(conn, self._publish_forever(conn, nc, js, watcher, stop))

    async def _lock(self, conn: asyncpg.Connection, stop: asyncio.Event) -> bool:
        """Wait for the lock; a session lock dies with the connection, so a standby takes over."""
        key = lock_key("relay", self.config.stream)
        while not stop.is_set():
            if await while_linked(conn, conn.fetchval("SELECT pg_try_advisory_lock($1)", key)):
                return True
            await wait_at_most(stop, LOCK_POLL_S)
        return False

    async def _publish_forever(
        self,
        conn: asyncpg.Connection,
        nc: NatsClient,
        js: JetStreamContext,
        watcher: HeadWatcher,
        stop: asyncio.Event,
    ) -> None:
        name = self.config.stream
        pipeline = Pipeline(nc, name, window=self.config.window, ack_timeout_s=ACK_TIMEOUT_S)
        try:
            await self._relay_batches(conn, nc, js, pipeline, watcher, stop)
        finally:
            with contextlib.suppress(Exception):
                await pipeline.close()

    async def _relay_batches(
        self,
        conn: asyncpg.Connection,
        nc: NatsClient,
        js: JetStreamContext,
        pipeline: Pipeline,
        watcher: HeadWatcher,
        stop: asyncio.Event,
    ) -> None:
        name = self.config.stream
        position = await ledger.checkpoint(conn, name)
        # This relay holds the lock, so it alone writes the owners: what it read or wrote
        # stays true while it runs, and a batch asks only about streams it has not seen.
        known: dict[str, Owner] = {}
        while not stop.is_set():
            batch = await reader.read_after(conn, position, self.config.batch)
            if not batch:
                await watcher.wait_beyond(position, IDLE_WAIT_S)
                continue
            unseen = {e.stream_id for e in batch} - known.keys()
            if unseen:
                if len(known) + len(unseen) > OWNERS_KEPT:
                    known.clear()
                found = await ledger.owners(conn, unseen)
                known.update({stream: found.get(stream, Owner()) for stream in unseen})
            learnt: dict[str, Owner] = {}
            messages = []
            for envelope in batch:
                if (owner := learn(envelope)) is not None:
                    known[envelope.stream_id] = learnt[envelope.stream_id] = owner
                messages.append(self._message(nc, envelope, known.get(envelope.stream_id, Owner())))
            if not await self._publish_all(js, pipeline, batch, messages, stop):
                return  # stopping: what was published is republished (and de-duplicated)
            position = batch[-1].position
            await ledger.advance(conn, name, position, learnt)

    def _message(self, nc: NatsClient, envelope: EventEnvelope, owner: Owner) -> Outgoing:
        with span(
            "relay publish",
            parent=envelope.metadata.traceparent,
            kind=SpanKind.PRODUCER,
            attributes={"flowledger.position": envelope.position, "flowledger.type": envelope.type},
        ):
            body, headers = message.encode(envelope, nc.max_payload)
            # Consumers continue from this span, so the trace shows the hop through NATS.
            if (traceparent := current_traceparent()) is not None:
                headers[message.TRACEPARENT] = traceparent
            return Outgoing(subject(self.config.prefix, envelope, owner), body, headers)

    async def _publish_all(
        self,
        js: JetStreamContext,
        pipeline: Pipeline,
        batch: list[EventEnvelope],
        messages: list[Outgoing],
        stop: asyncio.Event,
    ) -> bool:
        """Publish the batch until JetStream acknowledged all of it (False: stopped before)."""
        done, delay = 0, 0.1
        while True:
            try:
                await pipeline.publish(messages[done:])
                self._count(len(messages) - done)
                return True
            except Stopped as stopped:
                self._count(stopped.acked)
                done += stopped.acked
                if isinstance(stopped.error, NoStreamResponseError):
                    await self._recreate_stream(js)
                else:
                    # Resending is safe: JetStream drops a second copy of a Nats-Msg-Id.
                    where = batch[done].position
                    log.warning("relay: publishing position %s failed: %s", where, stopped)
            await wait_at_most(stop, delay)
            if stop.is_set():
                return False
            delay = min(delay * 2, MAX_BACKOFF_S)

    def _count(self, acked: int) -> None:
        self.published += acked
        RELAY_PUBLISHED.inc(acked)

    async def _recreate_stream(self, js: JetStreamContext) -> None:
        # NATS came back without its store (a new volume, a wiped server): the stream must
        # exist again before anything can be published.
        log.warning("relay: stream %s is gone; creating it again", self.config.stream)
        try:
            await _ensure_stream(js, self.config)
        except Exception as error:
            log.warning("relay: creating stream %s failed: %s", self.config.stream, error)


async def _ensure_stream(js: JetStreamContext, config: RelayConfig) -> None:
    """Create the stream, or bring an existing one to the configured limits."""
    try:
        await js.update_stream(config.stream_config())
    except NotFoundError:
        await js.add_stream(config.stream_config())


async def _close(conn: asyncpg.Connection) -> None:
    try:
        await conn.close(timeout=2)
    except Exception:
        # A session left open keeps its advisory lock: the next attempt would wait for it
        # forever, in silence.
        conn.terminate()
