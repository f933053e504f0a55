"""`flowledger deliverer`: one worker per enabled subscription, started and stopped as the
subscriptions' own events arrive, re-sends as they are asked for.

Its control consumer (`outbound-control`, durable) reads the subscriptions' events from the
same JetStream stream, so a subscription created, disabled, deleted or a re-send asked for
while the deliverer was down is acted on when it returns. One deliverer works at a time (an
advisory lock); a standby takes over when it dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from uuid import UUID

import asyncpg
import httpx
import msgspec
import nats.errors
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from adapters.notifications.notifier import Notifier, run_notifier
from adapters.outbound.attempt_log import AttemptLog
from adapters.outbound.backoff import Backoff
from adapters.outbound.delivery import Live, Message, Outbound, deliver, park
from adapters.outbound.signing import secret_key
from adapters.outbound.targets import AllowList
from adapters.outbound.worker import HEAD, Worker, body_of, consumed, forget_consumer
from adapters.platform.secrets import SecretUnsealError
from adapters.platform.settings import Settings
from adapters.secrets.kept import KeptSecrets
from adapters.statuses.reporter import Reporter, Reveal
from adapters.store import reader
from adapters.store.locks import lock_key
from adapters.store.repository import Repository
from adapters.store.store import EventStore
from adapters.streaming.nats import NatsConnection
from adapters.streaming.relay import message as relay_message
from adapters.streaming.relay.subjects import DEFAULT_PREFIX, filter_subject
from domain.errors import AggregateNotFound
from domain.subscription import Subscription, SubscriptionStatus
from projections.projection import live_schema
from projections.subscriptions import enabled_subscription_ids

log = logging.getLogger(__name__)

CONTROL = "outbound-control"
LOCK_POLL_S = 2.0
STREAM_WAIT_S = 1.0
MAX_BACKOFF_S = 10.0


@dataclass(frozen=True)
class StatusHosts:
    """Where commit statuses go, how tokens are revealed, and the dashboard runs link to."""

    reveal: Reveal
    github_api: str
    gitlab_api: str
    dashboard_url: str


async def _cancelled(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(BaseException):
        await task


class _Control(msgspec.Struct, frozen=True):
    stream_id: str
    type: str
    data: dict


_control = msgspec.json.Decoder(_Control)


class Deliverer:
    def __init__(
        self,
        settings: Settings,
        pool: asyncpg.Pool,
        nats: NatsConnection,
        repository: Repository,
        box: KeptSecrets,
        dispatch: Callable[..., Awaitable[object]],
        *,
        prefix: str = DEFAULT_PREFIX,
        store: EventStore | None = None,
        statuses: StatusHosts | None = None,
    ) -> None:
        self.settings, self.pool, self.nats = settings, pool, nats
        self.repository, self.box, self.dispatch = repository, box, dispatch
        self.stream, self.prefix = settings.relay_stream, prefix
        self.store, self.statuses = store, statuses
        """With both, it also reports runs to the commits they built (adapters/statuses)."""
        self.workers: dict[UUID, tuple[Worker, asyncio.Task[None]]] = {}
        self.resends: set[asyncio.Task[None]] = set()
        self.retry: set[UUID] = set()
        """Subscriptions to start again on the next idle turn."""
        self.resends_after = 0
        """Stream sequence up to which re-sends predate the control consumer."""
        self.active = asyncio.Event()
        """Set once it holds the lock and its workers run."""

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set, starting afresh after any failure (an outage)."""
        delay = 0.1
        while not stop.is_set():
            try:
                await self._serve(stop)
                return
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning(
                    "deliverer: %s: %s; retrying in %.1fs", type(error).__name__, error, delay
                )
            finally:
                self.active.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, MAX_BACKOFF_S)

    async def _serve(self, stop: asyncio.Event) -> None:
        async with contextlib.AsyncExitStack() as stack:
            conn = await self.pool.acquire()
            stack.push_async_callback(self.pool.release, conn)
            if not await self._lock(conn, stop) or not await self.nats.until_connected(stop):
                return
            stack.push_async_callback(conn.execute, "SELECT pg_advisory_unlock_all()")
            client = httpx.AsyncClient(
                timeout=self.settings.outbound_timeout_s,
                follow_redirects=False,  # a redirect could lead anywhere: it is an answer
                limits=httpx.Limits(max_connections=200, max_keepalive_connections=100),
                trust_env=False,
            )
            stack.push_async_callback(client.aclose)
            log = AttemptLog(self.pool)
            stack.push_async_callback(log.close)
            stack.push_async_callback(self._stop_all)  # first out: workers before the lock
            self.out = Outbound(
                pool=self.pool,
                client=client,
                allow=AllowList.parse(self.settings.outbound_allow),
                backoff=Backoff(
                    base_s=self.settings.outbound_backoff_base_ms / 1000,
                    cap_s=self.settings.outbound_backoff_cap_s,
                    give_up_after_s=self.settings.outbound_retry_for_s,
                ),
                disable_after_parked=self.settings.outbound_disable_after_parked,
                dispatch=self.dispatch,
                log=log,
            )
            js = self.nats.jetstream()
            control = await self._control(js, stop)
            if control is None:
                return
            stack.push_async_callback(control.unsubscribe)
            # Those started before (their consumers) and those the view knows, in case one
            # was created while no deliverer ran; `_start` skips any no longer enabled.
            known = await enabled_subscription_ids(self.pool, live_schema("subscriptions"))
            for sub_id in dict.fromkeys([*known, *sorted(await consumed(js, self.stream))]):
                await self._start(js, sub_id)
            if self.statuses is not None:
                reporting = asyncio.create_task(self._report_statuses(js, client, stop))
                stack.push_async_callback(_cancelled, reporting)
                notifying = asyncio.create_task(run_notifier(self._notifier(), js, stop))
                stack.push_async_callback(_cancelled, notifying)
            self.active.set()
            while not stop.is_set():
                try:
                    msgs = await control.fetch(20, timeout=1.0)
                except TimeoutError:  # nats-py raises either kind when nothing came
                    await self._reap(js)
                    continue
                for msg in msgs:
                    event = _control.decode(msg.data)
                    old_resend = msg.metadata.sequence.stream <= self.resends_after
                    if not (old_resend and event.type == "SubscriptionResendRequested"):
                        await self._on_control(js, event)
                    await msg.ack()

    async def _report_statuses(
        self, js: JetStreamContext, client: httpx.AsyncClient, stop: asyncio.Event
    ) -> None:
        """Commit statuses, beside the webhooks, on the same back-off; started again on error."""
        assert self.statuses is not None
        while not stop.is_set():
            reporter = Reporter(
                pool=self.pool,
                store=self.store,
                repository=self.repository,
                client=client,
                dispatch=self.dispatch,
                reveal=self.statuses.reveal,
                backoff=self.out.backoff,
                api_urls={"github": self.statuses.github_api, "gitlab": self.statuses.gitlab_api},
                dashboard_url=self.statuses.dashboard_url,
                stream=self.stream,
                prefix=self.prefix,
            )
            try:
                await reporter.run(js, stop)
            except (nats.errors.Error, TimeoutError) as error:
                log.warning("commit statuses: %r; starting again", error)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)

    def _notifier(self) -> Notifier:
        """Notification rules, told through the same delivery machinery (adapters/notifications)."""
        assert self.statuses is not None
        return Notifier(
            out=self.out,
            repository=self.repository,
            reveal=self.statuses.reveal,
            dashboard_url=self.statuses.dashboard_url,
            stream=self.stream,
            prefix=self.prefix,
            timeout_s=self.settings.outbound_timeout_s,
        )

    async def _lock(self, conn: asyncpg.Connection, stop: asyncio.Event) -> bool:
        key = lock_key("deliverer", self.stream)
        while not stop.is_set():
            if await conn.fetchval("SELECT pg_try_advisory_lock($1)", key):
                return True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), LOCK_POLL_S)
        return False

    async def _control(
        self, js: JetStreamContext, stop: asyncio.Event
    ) -> JetStreamContext.PullSubscription | None:
        """The control consumer. Made the first time from the stream's start, so that no
        subscription created before any deliverer ran is missed; re-sends asked for before
        it was made are history, not work (`self.resends_after`)."""
        subject = filter_subject(self.prefix, stream_type="subscription")
        config = ConsumerConfig(
            durable_name=CONTROL,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=60,
            filter_subject=subject,
        )
        while not stop.is_set():
            try:
                try:
                    await js.consumer_info(self.stream, CONTROL)
                except nats.js.errors.NotFoundError:
                    self.resends_after = (await js.stream_info(self.stream)).state.last_seq
                return await js.pull_subscribe(
                    subject, durable=CONTROL, stream=self.stream, config=config
                )
            except nats.js.errors.NotFoundError:
                # No stream before the relay's first run: wait for it.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), STREAM_WAIT_S)
        return None

    async def _on_control(self, js: JetStreamContext, event: _Control) -> None:
        sub_id = UUID(event.stream_id)
        match event.type:
            case "SubscriptionCreated" | "SubscriptionEnabled":
                await self._start(js, sub_id)
            case "SubscriptionDisabled":
                await self._stop(sub_id)
            case "SubscriptionDeleted":
                await self._stop(sub_id)
                await forget_consumer(js, self.stream, sub_id)
            case "SubscriptionResendRequested":
                task = asyncio.create_task(
                    self._resend(sub_id, event.data["event_position"]), name=f"resend-{sub_id}"
                )
                self.resends.add(task)
                task.add_done_callback(self.resends.discard)

    async def _live(self, sub_id: UUID) -> Live | None:
        try:
            sub = await self.repository.get(Subscription, sub_id)
        except AggregateNotFound:
            return None
        if sub.status is not SubscriptionStatus.ENABLED:
            return None
        secret = await self.box.unseal(sub.sealed_secret)
        return Live(
            id=sub_id,
            project_id=sub.project_id,
            url=sub.url,
            event_types=sub.event_types,
            key=secret_key(secret),
            created_at=sub.created_on,
            version=sub.version,
        )

    async def _start(self, js: JetStreamContext, sub_id: UUID) -> None:
        running = self.workers.get(sub_id)
        if running is not None and not running[1].done():
            return
        try:
            live = await self._live(sub_id)
        except SecretUnsealError as error:
            # Sealed under another cipher key: this one subscription cannot be signed for, the
            # others go on. (Rotating the key without re-sealing leaves it so.)
            log.warning("outbound subscription %s skipped: %s", sub_id, error)
            return
        if live is None:
            return
        worker = Worker(self.out, live, js, self.stream, self.prefix)
        try:
            await worker.open()  # before the control event is acknowledged
        except (nats.errors.Error, TimeoutError) as error:
            # NATS busy or away: tried again on the next idle turn, nothing is lost meanwhile.
            log.warning("outbound subscription %s: cannot open its consumer: %r", sub_id, error)
            self.retry.add(sub_id)
            return
        self.retry.discard(sub_id)
        task = asyncio.create_task(worker.run(), name=f"outbound-{sub_id}")
        self.workers[sub_id] = (worker, task)

    async def _stop(self, sub_id: UUID) -> None:
        found = self.workers.pop(sub_id, None)
        if found is None:
            return
        worker, task = found
        worker.stop.set()
        with contextlib.suppress(Exception):
            await task

    async def _reap(self, js: JetStreamContext) -> None:
        """Workers that ended on an error start again (from their last acknowledged event);
        those that could not start are tried again."""
        for sub_id, (_, task) in list(self.workers.items()):
            if task.done():
                self.workers.pop(sub_id)
                if not task.cancelled() and (error := task.exception()) is not None:
                    log.warning("outbound subscription %s: %r; starting it again", sub_id, error)
                    self.retry.add(sub_id)
        for sub_id in sorted(self.retry):
            await self._start(js, sub_id)

    async def _stop_all(self) -> None:
        # All told at once, then awaited together: one by one, each waits out its fetch.
        await asyncio.gather(*(self._stop(sub_id) for sub_id in list(self.workers)))
        for task in list(self.resends):
            task.cancel()
        await asyncio.gather(*self.resends, return_exceptions=True)

    async def _resend(self, sub_id: UUID, position: int) -> None:
        """Send one event again (the same `webhook-id`), with the usual retries."""
        live = await self._live(sub_id)
        if live is None:
            return
        async with self.pool.acquire() as conn:
            found = await reader.read_after(conn, position - 1, 1)
        if not found or found[0].position != position:
            return
        data, _ = relay_message.encode(found[0], 2**62)
        head = HEAD.decode(data)
        message = Message(head.event_id, position, head.type, body_of(data, head))
        settled = await deliver(self.out, live, message, asyncio.Event())
        if settled is not None and not settled[0].ok:
            await park(self.out, live, message, *settled)
