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
import nats.errors
from nats.js import JetStreamContext

from adapters.notifications.notifier import Notifier, run_notifier
from adapters.outbound.attempt_log import AttemptLog
from adapters.outbound.backoff import Backoff
from adapters.outbound.control import ControlEvent, decode_control, open_control
from adapters.outbound.delivery import Outbound
from adapters.outbound.running import SubscriptionWorkers
from adapters.outbound.targets import AllowList
from adapters.outbound.worker import consumed
from adapters.platform.settings import Settings
from adapters.secrets.kept import KeptSecrets
from adapters.statuses.reporter import Reporter, Reveal
from adapters.store.locks import lock_key
from adapters.store.repository import Repository
from adapters.store.store import EventStore
from adapters.streaming.nats import NatsConnection
from adapters.streaming.relay.subjects import DEFAULT_PREFIX
from projections.projection import live_schema
from projections.subscriptions import enabled_subscription_ids

log = logging.getLogger(__name__)

LOCK_POLL_S = 2.0
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
        self.running: SubscriptionWorkers | None = None
        """Its workers, while it serves."""
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
            running = self.running = SubscriptionWorkers(
                self.out,
                js,
                pool=self.pool,
                repository=self.repository,
                box=self.box,
                stream=self.stream,
                prefix=self.prefix,
            )
            stack.push_async_callback(running.stop_all)  # first out: workers before the lock
            opened = await open_control(js, self.stream, self.prefix, stop)
            if opened is None:
                return
            control, resends_after = opened
            if resends_after is not None:
                self.resends_after = resends_after
            stack.push_async_callback(control.unsubscribe)
            # Those started before (their consumers) and those the view knows, in case one
            # was created while no deliverer ran; `_start` skips any no longer enabled.
            known = await enabled_subscription_ids(self.pool, live_schema("subscriptions"))
            for sub_id in dict.fromkeys([*known, *sorted(await consumed(js, self.stream))]):
                await running.start(sub_id)
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
                    await running.reap()
                    continue
                for msg in msgs:
                    event = decode_control(msg.data)
                    old_resend = msg.metadata.sequence.stream <= self.resends_after
                    if not (old_resend and event.type == "SubscriptionResendRequested"):
                        await on_control(running, event)
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


async def on_control(running: SubscriptionWorkers, event: ControlEvent) -> None:
    sub_id = UUID(event.stream_id)
    match event.type:
        case "SubscriptionCreated" | "SubscriptionEnabled":
            await running.start(sub_id)
        case "SubscriptionDisabled":
            await running.stop(sub_id)
        case "SubscriptionDeleted":
            await running.forget(sub_id)
        case "SubscriptionResendRequested":
            running.resend(sub_id, event.data["event_position"])
