"""The intake role's process manager for webhooks, served by the projector runtime (as
adapters.bootstrap composes it).

It is a projection in the runtime's eyes (a checkpoint in `projection_checkpoints`, one owner
at a time through the advisory lock, poison events stopped and shown by `projections status`)
whose `apply` sends commands instead of writing tables. Delivery is at least once: a crash
between the commands and the checkpoint replays the batch, and everything replayed is
idempotent (an outcome already recorded is skipped; run ids and appends are keyed).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from uuid import UUID

import asyncpg

from adapters.pipeline_code.repository_file import GitRepositoryFiles
from adapters.store import AppendOutcomeUnknown, StoreUnavailable
from adapters.store.aggregate_cache import CachingRepository
from adapters.telemetry.tracing import span, tracing_enabled
from adapters.webhooks.candidates import ViewCandidates
from adapters.webhooks.jenkins_builds import ViewJenkinsBuilds
from commands.webhook_intake import WebhookIntake
from commands.webhook_intake_batch import IntakeBatch
from commands.webhook_intake_types import Outcome, ReceivedDelivery
from domain.envelope import EventEnvelope
from domain.webhook_delivery import UNREAD_BODY
from projections.projection import live_schema
from projections.rows import ident

if TYPE_CHECKING:
    from adapters.platform.services import Services

log = logging.getLogger(__name__)

NAME = "webhook_intake"
PIPELINES_WAIT_S = 10.0
BATCH = 500
"""Positions per batch: each delivery read carries its raw body (up to 25 MiB). A project's
deliveries of a batch are processed together (`IntakeBatch`): a few round trips for them all."""
LANES = 4
"""Projects whose deliveries are processed at once (each holds a pool connection or two)."""
# The runtime reconnects and retries the batch on these (OSError); anything else would stop
# the intake as if the delivery were poison.
_TRANSIENT = (StoreUnavailable, AppendOutcomeUnknown)
_INFRA = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError, *_TRANSIENT)


class IntakeProcess:
    """Processes each `WebhookReceived`, in position order, through the command bus."""

    version = 1
    event_types = frozenset({"WebhookReceived"})
    writes_elsewhere = True
    """Its commands are its writes, each idempotent: the runtime applies a batch outside a
    transaction and then moves the checkpoint in one statement (`projections/batches.py`)."""

    def __init__(
        self,
        services: Services,
        *,
        name: str = NAME,
        pipelines_schema: str = live_schema("pipelines"),
        pipelines_view: str | None = "pipelines",
        wait_s: float = PIPELINES_WAIT_S,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        builds_schema: str | None = live_schema("jenkins_builds"),
        builds_view: str | None = "jenkins_builds",
    ) -> None:
        self.name = name
        self.candidates = ViewCandidates(
            services.store.pool, schema=pipelines_schema, view=pipelines_view, wait_s=wait_s
        )
        self.builds = None
        if builds_schema is not None:  # None: no folding (a test that owns its views)
            self.builds = ViewJenkinsBuilds(
                services.store.pool, schema=builds_schema, view=builds_view, wait_s=wait_s
            )
        # The pipeline file a push names is read here, after the delivery's 202 (see
        # commands/pipeline_file_intake.py): git never holds up the webhook's answer.
        files = GitRepositoryFiles(services.store.pool)
        self._intake = WebhookIntake(
            services.bus.dispatch,
            services.repository,
            self.candidates,
            builds=self.builds,
            files=files,
        )
        self._batch = IntakeBatch(
            self._intake, services.bus.dispatch, services.repository, self.candidates
        )
        self._repository = services.repository
        self._clock = clock
        self._lanes = asyncio.Semaphore(LANES)

    def ddl(self, schema: str) -> str:
        # No tables: its state is its checkpoint and the outcomes on the deliveries' streams.
        return f"COMMENT ON SCHEMA {ident(schema)} IS 'webhook intake: no tables of its own'"

    async def apply(
        self, conn: asyncpg.Connection, schema: str, events: Sequence[EventEnvelope]
    ) -> None:
        """A batch's deliveries: each project's in position order, projects side by side.

        One project's deliveries keep their order (its runs are numbered as its pushes came);
        other projects' share nothing with them, and running them together lets their appends
        share PostgreSQL's commits instead of waiting for one flush each. An error stops the
        batch (the runtime retries it; whatever was done is skipped the second time).
        """
        by_project: dict[str, list[EventEnvelope]] = {}
        for envelope in events:
            if envelope.type in self.event_types:
                by_project.setdefault(envelope.data.get("project_id", ""), []).append(envelope)
        lanes = [self._in_order(found) for found in by_project.values()]
        if len(lanes) == 1:
            await lanes[0]
            return
        try:
            async with asyncio.TaskGroup() as group:
                for lane in lanes:
                    group.create_task(lane)
        except ExceptionGroup as failed:
            # The runtime tells a transient error from a poison event by its class.
            raise failed.exceptions[0] from None

    async def _in_order(self, envelopes: Sequence[EventEnvelope]) -> None:
        """One project's deliveries in order: runs of untraced ones decided together, a
        delivery whose trace is sampled alone, so that its trace holds the intake's own hops
        (one batched command cannot continue every delivery's trace)."""
        async with self._lanes:
            if not tracing_enabled():  # nothing is sampled: no question per delivery
                await self._gathered(envelopes)
                return
            for traced, group in itertools.groupby(envelopes, key=_sampled):
                if traced:
                    for envelope in group:
                        await self.process(envelope)
                else:
                    await self._gathered(list(group))

    async def _gathered(self, envelopes: Sequence[EventEnvelope]) -> None:
        ids: dict[str, UUID] = {}  # a batch's deliveries share a source and project or few
        deliveries = [received(envelope, ids) for envelope in envelopes]
        if isinstance(self._repository, CachingRepository):
            # The outcomes' command then loads each delivery from what was read here, bar its
            # body; its append expects this version (`adapters/store/primed.py`).
            self._repository.prime(envelopes, UNREAD_BODY)
        try:
            with span("intake batch", attributes={"flowledger.deliveries": len(deliveries)}):
                await self._batch.handle_many(deliveries, at=self._clock())
            return
        except _TRANSIENT as error:
            raise ConnectionError(f"event store: {error}") from error
        except _INFRA:
            raise
        except Exception:
            # A bug somewhere in the batch: one by one, so only its delivery is failed.
            log.exception("webhook intake batch failed; processing it one by one")
        for envelope in envelopes:
            await self.process(envelope)

    async def process(self, envelope: EventEnvelope) -> Outcome:
        """Process one recorded delivery; a bug is recorded as its failure, not a stop."""
        delivery = received(envelope)
        at = self._clock()
        with span(
            "intake delivery",
            continues=delivery.traceparent,
            attributes={"flowledger.delivery": str(delivery.stream_id)},
        ):
            return await self._process(delivery, at)

    async def _process(self, delivery: ReceivedDelivery, at: datetime) -> Outcome:
        try:
            return await self._intake.handle(delivery, at=at)
        except _TRANSIENT as error:
            raise ConnectionError(f"event store: {error}") from error
        except _INFRA:
            raise
        except Exception as error:
            log.exception("webhook delivery %s failed", delivery.stream_id)
            failed = Outcome(outcome="failed", reason=f"{type(error).__name__}: {error}")
            return await self._intake.record(delivery, failed, at=at)


def _sampled(envelope: EventEnvelope) -> bool:
    """Whether this process traces and the delivery's W3C trace context says "sampled"."""
    parent = envelope.metadata.traceparent
    return bool(tracing_enabled() and parent and int(parent[-2:], 16) & 1)


def received(envelope: EventEnvelope, ids: dict[str, UUID] | None = None) -> ReceivedDelivery:
    """A `WebhookReceived` envelope as the process manager reads it; `ids`, the ids already
    parsed (for the envelopes of one batch)."""
    data = envelope.data
    ids = {} if ids is None else ids
    source, project = data["source_id"], data["project_id"]
    if (source_id := ids.get(source)) is None:
        source_id = ids[source] = UUID(source)
    if (project_id := ids.get(project)) is None:
        project_id = ids[project] = UUID(project)
    return ReceivedDelivery(
        stream_id=UUID(envelope.stream_id),
        event_id=envelope.event_id,
        position=envelope.position,
        source_id=source_id,
        project_id=project_id,
        source_kind=data["source_kind"],
        delivery_id=data["delivery_id"],
        event=data["event"],
        content_type=data.get("content_type") or "",
        payload=data["payload"],
        correlation_id=envelope.metadata.correlation_id,
        traceparent=envelope.metadata.traceparent,
    )
