"""The deliverer's workers: one per enabled subscription, on its own consumer, and re-sends."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from uuid import UUID

import asyncpg
import nats.errors
from nats.js import JetStreamContext

from adapters.outbound.delivery import Live, Message, Outbound, deliver, park
from adapters.outbound.signing import secret_key
from adapters.outbound.worker import HEAD, Worker, body_of, forget_consumer
from adapters.platform.secrets import SecretUnsealError
from adapters.secrets.kept import KeptSecrets
from adapters.store import reader
from adapters.store.repository import Repository
from adapters.streaming.relay import message as relay_message
from domain.errors import AggregateNotFound
from domain.subscription import Subscription, SubscriptionStatus

log = logging.getLogger(__name__)


class SubscriptionWorkers:
    def __init__(
        self,
        out: Outbound,
        js: JetStreamContext,
        *,
        pool: asyncpg.Pool,
        repository: Repository,
        box: KeptSecrets,
        stream: str,
        prefix: str,
    ) -> None:
        self.out, self.js, self.pool = out, js, pool
        self.repository, self.box = repository, box
        self.stream, self.prefix = stream, prefix
        self.workers: dict[UUID, tuple[Worker, asyncio.Task[None]]] = {}
        self.resends: set[asyncio.Task[None]] = set()
        self.retry: set[UUID] = set()
        """Subscriptions to start again on the next idle turn."""

    async def live(self, sub_id: UUID) -> Live | None:
        """What a worker needs of the subscription; None unless it exists and is enabled."""
        try:
            sub = await self.repository.get(Subscription, sub_id)
        except AggregateNotFound:
            return None
        if sub.status is not SubscriptionStatus.ENABLED:
            return None
        secret = await self.box.unseal(sub.sealed_secret)
        async with self.pool.acquire() as conn:
            created_position = await reader.first_position(conn, str(sub_id))
        return Live(
            id=sub_id,
            project_id=sub.project_id,
            url=sub.url,
            event_types=sub.event_types,
            key=secret_key(secret),
            created_at=sub.created_on,
            version=sub.version,
            created_position=created_position or 0,
        )

    async def start(self, sub_id: UUID) -> None:
        running = self.workers.get(sub_id)
        if running is not None and not running[1].done():
            return
        try:
            live = await self.live(sub_id)
        except SecretUnsealError as error:
            # Sealed under another cipher key: this one subscription cannot be signed for, the
            # others go on. (Rotating the key without re-sealing leaves it so.)
            log.warning("outbound subscription %s skipped: %s", sub_id, error)
            return
        if live is None:
            return
        worker = Worker(self.out, live, self.js, self.stream, self.prefix)
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

    async def stop(self, sub_id: UUID) -> None:
        found = self.workers.pop(sub_id, None)
        if found is None:
            return
        worker, task = found
        worker.stop.set()
        with contextlib.suppress(Exception):
            await task

    async def forget(self, sub_id: UUID) -> None:
        """A deleted subscription: its worker stopped and its consumer removed."""
        await self.stop(sub_id)
        await forget_consumer(self.js, self.stream, sub_id)

    def resend(self, sub_id: UUID, position: int) -> None:
        task = asyncio.create_task(self._resend(sub_id, position), name=f"resend-{sub_id}")
        self.resends.add(task)
        task.add_done_callback(self.resends.discard)

    async def reap(self) -> None:
        """Workers that ended on an error start again (from their last acknowledged event);
        those that could not start are tried again."""
        for sub_id, (_, task) in list(self.workers.items()):
            if task.done():
                self.workers.pop(sub_id)
                if not task.cancelled() and (error := task.exception()) is not None:
                    log.warning("outbound subscription %s: %r; starting it again", sub_id, error)
                    self.retry.add(sub_id)
        for sub_id in sorted(self.retry):
            await self.start(sub_id)

    async def stop_all(self) -> None:
        # All told at once, then awaited together: one by one, each waits out its fetch.
        await asyncio.gather(*(self.stop(sub_id) for sub_id in list(self.workers)))
        for task in list(self.resends):
            task.cancel()
        await asyncio.gather(*self.resends, return_exceptions=True)

    async def _resend(self, sub_id: UUID, position: int) -> None:
        """Send one event again (the same `webhook-id`), with the usual retries."""
        live = await self.live(sub_id)
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
