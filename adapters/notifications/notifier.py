"""The deliverer's notifier: tells each project's notification rules what happened.

Driven by a durable JetStream consumer (`notifications`) on the events that can notify (a run
failed, timed out or succeeded, an approval requested, a runner lost, a system notice) and on
the re-sends asked for, so nothing is missed across restarts. Each event is read against the
read models once they have taken it in (a success is a recovery only as of then), and sent to
every enabled rule it concerns through the outbound machinery: attempts logged beside the
webhooks' (under the rule's id), retried with back-off and jitter, parked by a command when
their time is up, re-sendable. One rule's notifications go out in order; the event is
acknowledged once every rule's delivery is settled (so a crash repeats rather than loses).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from adapters.notifications import facts, messages, notices
from adapters.notifications.transports import post_slack, send_email
from adapters.outbound.delivery import Live, Message, Outbound, deliver
from adapters.outbound.sender import Answer
from adapters.store import reader
from adapters.store.repository import Repository
from adapters.streaming.relay import message as relay_message
from adapters.streaming.relay.subjects import filter_subject
from commands.context import CommandContext
from commands.notification_rules import ParkNotification
from commands.subscriptions import DELIVERER
from domain.errors import DomainError, InvalidValue
from domain.notification_channel import EmailChannel, recipients
from domain.notification_rule import RUN_TRIGGERS, RuleStatus
from projections.notification_rules import RuleRow, get_rule, rules_for
from projections.projection import live_schema

log = logging.getLogger(__name__)

CONSUMER = "notifications"
RESEND = "NotificationResendRequested"
VIEW_WAIT_S = 10.0
"""How long an event waits for the read models; then it is handed back, to come again."""
SCHEMA = live_schema("notification_rules")
Reveal = Callable[[asyncpg.Pool, str, str], Awaitable[Any]]


class _Event(msgspec.Struct, frozen=True):
    event_id: str
    stream_id: str
    type: str
    data: dict


_event = msgspec.json.Decoder(_Event)


@dataclass
class Notifier:
    out: Outbound
    repository: Repository
    reveal: Reveal
    dashboard_url: str
    stream: str
    prefix: str
    timeout_s: float

    def __post_init__(self) -> None:
        self.dashboard_url = self.dashboard_url.rstrip("/")
        self.chains: dict[UUID, asyncio.Task[bool]] = {}
        self.pending: set[asyncio.Task[Any]] = set()

    async def run(self, js: JetStreamContext, stop: asyncio.Event) -> None:
        subjects = [
            *(filter_subject(self.prefix, stream_type="run", event_type=t) for t in notices.RUNS),
            filter_subject(self.prefix, stream_type="runner", event_type="RunnerLost"),
            filter_subject(self.prefix, stream_type="system_notice", event_type="SystemNoticeSent"),
            filter_subject(self.prefix, stream_type="notification_rule", event_type=RESEND),
        ]
        config = ConsumerConfig(
            durable_name=CONSUMER,
            deliver_policy=DeliverPolicy.NEW,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=60,
            max_ack_pending=1000,
            filter_subjects=subjects,
        )
        psub = await js.pull_subscribe("", durable=CONSUMER, stream=self.stream, config=config)
        try:
            while not stop.is_set():
                try:
                    msgs = await psub.fetch(50, timeout=1.0)
                except TimeoutError:  # nats-py raises either kind when nothing came
                    continue
                for msg in msgs:
                    await self._take(msg, stop)
        finally:
            for task in list(self.pending):
                task.cancel()
            await asyncio.gather(*self.pending, return_exceptions=True)
            with contextlib.suppress(Exception):
                await psub.unsubscribe()

    def _spawn(self, work: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(work)
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)
        return task

    async def _take(self, msg: Msg, stop: asyncio.Event) -> None:
        event = _event.decode(msg.data)
        if event.type == RESEND:
            d = event.data
            self._spawn(self._resend(UUID(event.stream_id), d["message_id"], d["event_position"]))
            await msg.ack()
            return
        position = int((msg.headers or {}).get(relay_message.POSITION, "0"))
        if not await facts.caught_up(self.out.pool, position, VIEW_WAIT_S):
            log.warning("notifications: read models behind position %s; later", position)
            await msg.nak(delay=1)
            return
        found = await self._happening(event.type, event.stream_id, event.data)
        rules = [] if found is None else await self._rules(found)
        if not rules:
            await msg.ack()
            return
        assert found is not None
        message = Message(event.event_id, position, event.type, b"")
        sent = [self._chain(rule, found.notice, message, stop, msg.in_progress) for rule in rules]
        self._spawn(self._settle(msg, sent))

    async def _happening(
        self, event_type: str, stream_id: str, data: dict
    ) -> notices.Happening | None:
        return await notices.happening(
            self.out.pool, self.repository, self.dashboard_url, event_type, stream_id, data
        )

    async def _rules(self, found: notices.Happening) -> list[RuleRow]:
        rules = await rules_for(self.out.pool, SCHEMA, found.notice.trigger, found.project_id)
        if found.notice.trigger not in RUN_TRIGGERS:
            return rules
        return [r for r in rules if facts.matches(r.pipeline_id, r.branch, found.run)]

    def _chain(
        self,
        rule: RuleRow,
        notice: messages.Notice,
        message: Message,
        stop: asyncio.Event,
        keep_alive: Callable[[], Awaitable[None]] | None,
    ) -> asyncio.Task[bool]:
        """The rule's delivery, after its earlier ones; True once settled, False if stopped."""
        before = self.chains.get(rule.id)
        task = asyncio.create_task(self._deliver(before, rule, notice, message, stop, keep_alive))
        self.chains[rule.id] = task
        task.add_done_callback(lambda _t: self._forget(rule.id, task))
        return task

    def _forget(self, rule_id: UUID, task: asyncio.Task[bool]) -> None:
        if self.chains.get(rule_id) is task:
            self.chains.pop(rule_id)

    async def _settle(self, msg: Msg, sent: list[asyncio.Task[bool]]) -> None:
        done = await asyncio.gather(*sent, return_exceptions=True)
        with contextlib.suppress(Exception):
            if all(d is True for d in done):
                await msg.ack()
            else:
                await msg.nak()

    async def _deliver(
        self,
        before: asyncio.Task[bool] | None,
        rule: RuleRow,
        notice: messages.Notice,
        message: Message,
        stop: asyncio.Event,
        keep_alive: Callable[[], Awaitable[None]] | None = None,
    ) -> bool:
        if before is not None:
            with contextlib.suppress(Exception):
                await before
        live = Live(
            id=rule.id,
            project_id=rule.project_id,
            url="",
            event_types=(),
            key=b"",
            created_at=rule.created_at,
            version=rule.stream_version,
            transport=partial(self._send, rule, notice),
        )
        settled = await deliver(self.out, live, message, stop, keep_alive)
        if settled is None:
            return False
        answer, tries = settled
        if not answer.ok:
            await self._park(rule, message, answer, tries)
        return True

    async def _send(self, rule: RuleRow, notice: messages.Notice, message: Message) -> Answer:
        channel = rule.channel
        if isinstance(channel, EmailChannel):
            password = None
            if channel.password_secret is not None:
                password = await self._secret(rule, channel.password_secret)
                if password is None:
                    return _missing(channel.password_secret)
            to = channel.to
            if channel.to_secret is not None:
                listed = await self._secret(rule, channel.to_secret)
                if listed is None:
                    return _missing(channel.to_secret)
                try:
                    named = tuple(a for a in listed.split(",") if a.strip())
                    to = recipients("channel.to_secret", named) or _no_one()
                except InvalidValue as bad:
                    return Answer(None, f"secret {channel.to_secret!r}: {bad.reason}", 0)
            mail = messages.email(notice, channel, to, message.message_id)
            return await send_email(self.out.allow, channel, password, mail, self.timeout_s)
        url = channel.url
        if channel.url_secret is not None:
            url = await self._secret(rule, channel.url_secret)
            if url is None:
                return _missing(channel.url_secret)
        assert url is not None
        body = messages.slack_body(notice)
        return await post_slack(self.out.client, self.out.allow, url.strip(), body)

    async def _secret(self, rule: RuleRow, name: str) -> str | None:
        found = await self.reveal(self.out.pool, str(rule.project_id), name)
        return None if found is None else found.value

    async def _park(self, rule: RuleRow, message: Message, answer: Answer, tries: int) -> None:
        command = ParkNotification(
            rule_id=rule.id,
            message_id=message.message_id,
            event_position=message.position,
            attempts=tries,
            last_status=answer.status_code,
            last_error=answer.error,
        )
        context = CommandContext(
            principal=DELIVERER,
            at=datetime.now(UTC),
            correlation_id=f"notification:{message.message_id}",
            causation_id=message.message_id,
        )
        with contextlib.suppress(DomainError):
            await self.out.dispatch(command, context)

    async def _resend(self, rule_id: UUID, message_id: str, position: int) -> None:
        """The event at `position` told to the rule again (as it would be told now)."""
        rule = await get_rule(self.out.pool, SCHEMA, rule_id)
        if rule is None or rule.status is RuleStatus.DELETED:
            return
        async with self.out.pool.acquire() as conn:
            found = await reader.read_after(conn, position - 1, 1)
        if not found or found[0].position != position:
            return
        event = found[0]
        happened = await self._happening(event.type, event.stream_id, dict(event.data))
        if happened is None:
            return
        message = Message(message_id, position, event.type, b"")
        await self._deliver(None, rule, happened.notice, message, asyncio.Event())


def _no_one() -> tuple[str, ...]:
    raise InvalidValue("channel.to_secret", "names no e-mail address")


def _missing(name: str) -> Answer:
    return Answer(None, f"the project has no secret {name!r} (any more)", 0)


async def run_notifier(notifier: Notifier, js: JetStreamContext, stop: asyncio.Event) -> None:
    """The notifier until `stop`, started again after a NATS error."""
    while not stop.is_set():
        try:
            await notifier.run(js, stop)
        except (nats.errors.Error, TimeoutError) as error:
            log.warning("notifications: %r; starting again", error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
