"""The webhook process manager over a batch of deliveries: one read, and one append batch of
their runs and outcomes together, where one delivery at a time cost some eight round trips each.

Decisions are `WebhookIntake`'s, delivery by delivery and in order; only the reads and writes
are gathered (`commands/webhook_batches.py`). A delivery that needs more than its candidates
(a pipeline file to read at the pushed sha, a backflow run to mirror) is handed to
`WebhookIntake.decide` on its own (the candidates say which pipelines read a file, as the
pipelines view has them at the delivery's position or later), after the runs gathered before
it are requested: a project's runs keep the order of its pushes. Deliveries already processed
are skipped, and every run and outcome is keyed as alone, so a replayed batch writes nothing
twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import msgspec

from commands.boundary import checked
from commands.context import CommandContext, Principal
from commands.ports import Repository
from commands.webhook_batches import (
    ITEMS_MAX,
    DeliveriesProcessed,
    DeliveryDecided,
    OutcomeRecord,
    RequestRunsAndRecordOutcomes,
    RunAsk,
    RunRequest,
)
from commands.webhook_intake import WebhookIntake
from commands.webhook_intake_requests import (
    ACTOR,
    chosen_for,
    nothing_chosen,
    outcome_record,
    run_command,
)
from commands.webhook_intake_types import (
    Candidate,
    Candidates,
    Dispatch,
    Outcome,
    ReceivedDelivery,
)
from commands.webhook_payloads import (
    Backflow,
    Custom,
    Ignored,
    PullRequest,
    Push,
    UnreadablePayload,
    parse_delivery,
)
from domain.errors import InvalidValue
from domain.webhook_delivery import WebhookDelivery

_INTAKE = Principal(id="webhook-intake", name=ACTOR, project_id=None, scopes=frozenset({"write"}))
"""Who sends the batches; each item is decided as its own principal."""
_ASKED = Outcome(outcome="triggered")
"""The outcome record of a delivery that asks for runs, until their answers make its own."""


class _Gathered:
    """Consecutive deliveries decided, not yet sent: each with its outcome, or its runs."""

    def __init__(self, deliveries: Sequence[ReceivedDelivery], at: datetime) -> None:
        self._deliveries = deliveries
        self._at = at
        self.items: list[tuple[int, DeliveryDecided]] = []

    def outcome(self, n: int, outcome: Outcome) -> None:
        self._add(n, outcome, ())

    def runs(self, n: int, asks: Sequence[RunAsk]) -> None:
        self._add(n, _ASKED, tuple(asks))

    def _add(self, n: int, outcome: Outcome, asks: tuple[RunAsk, ...]) -> None:
        command, context = outcome_record(self._deliveries[n], outcome, self._at)
        record = OutcomeRecord(command=command, context=context)
        self.items.append((n, DeliveryDecided(record=record, asks=asks)))

    def chunks(self) -> list[list[tuple[int, DeliveryDecided]]]:
        """The items in commands of at most ITEMS_MAX appends (a delivery's runs and outcome
        stay together), and none left."""
        chunks: list[list[tuple[int, DeliveryDecided]]] = []
        appends = ITEMS_MAX
        for item in self.items:
            size = 1 + len(item[1].asks)
            if appends + size > ITEMS_MAX:
                chunks.append([])
                appends = 0
            chunks[-1].append(item)
            appends += size
        self.items = []
        return chunks


class IntakeBatch:
    def __init__(
        self,
        intake: WebhookIntake,
        dispatch: Dispatch,
        repository: Repository,
        candidates: Candidates,
    ) -> None:
        self._intake = intake
        self._dispatch = dispatch
        self._repository = repository
        self._candidates = candidates

    async def handle_many(
        self, deliveries: Sequence[ReceivedDelivery], *, at: datetime
    ) -> list[Outcome]:
        """Process each delivery not processed yet, in order, and record the outcomes."""
        # Only a stream past its `WebhookReceived` holds an outcome: the versions say which,
        # without reading back the raw bodies the batch already holds (a replayed batch).
        versions = await self._repository.versions([d.stream_id for d in deliveries])
        processed = [id for id, version in versions.items() if version > 1]
        records = await self._repository.get_many(WebhookDelivery, processed) if processed else {}
        outcomes: dict[int, Outcome] = {}
        todo: list[int] = []
        for n, delivery in enumerate(deliveries):
            record = records.get(delivery.stream_id)
            if record is not None and record.outcome is not None:
                outcomes[n] = Outcome(
                    outcome=record.outcome, runs=record.runs, reason=record.reason
                )
            else:
                todo.append(n)
        decided = await self._decide(deliveries, todo, at)
        return [outcomes.get(n) or decided[n] for n in range(len(deliveries))]

    async def _decide(
        self, deliveries: Sequence[ReceivedDelivery], todo: Sequence[int], at: datetime
    ) -> dict[int, Outcome]:
        """Each delivery of `todo` decided, its runs requested and its outcome recorded."""
        candidates: dict[UUID, Sequence[Candidate]] = {}
        for project in {deliveries[n].project_id for n in todo}:
            last = max(deliveries[n].position for n in todo if deliveries[n].project_id == project)
            candidates[project] = await self._candidates(project, position=last)
        decided: dict[int, Outcome] = {}
        gathered = _Gathered(deliveries, at)
        for n in todo:
            delivery = deliveries[n]
            try:
                facts = parse_delivery(
                    delivery.source_kind,
                    delivery.event,
                    delivery.payload,
                    content_type=delivery.content_type,
                )
            except UnreadablePayload as error:
                gathered.outcome(n, Outcome(outcome="failed", reason=str(error)))
                continue
            match facts:
                case Ignored(reason=reason):
                    gathered.outcome(n, Outcome(outcome="ignored", reason=reason))
                case Push(deleted=True, ref=ref):
                    gathered.outcome(n, Outcome(outcome="ignored", reason=f"deleted ref {ref}"))
                case Push() | PullRequest() | Custom():
                    chosen = chosen_for(delivery, facts, candidates[delivery.project_id])
                    if not chosen:
                        gathered.outcome(n, nothing_chosen(delivery, facts))
                    elif isinstance(facts, Push) and any(c.reads_file for c in chosen):
                        decided |= await self._send(gathered, deliveries, at)
                        gathered.outcome(n, await self._intake.decide(delivery, at=at))
                    else:
                        gathered.runs(n, [_ask(delivery, facts, c) for c in chosen])
                case Backflow():
                    decided |= await self._send(gathered, deliveries, at)
                    gathered.outcome(n, await self._intake.decide(delivery, at=at))
        decided |= await self._send(gathered, deliveries, at)
        return decided

    async def _send(
        self, gathered: _Gathered, deliveries: Sequence[ReceivedDelivery], at: datetime
    ) -> dict[int, Outcome]:
        """The gathered deliveries' runs requested, in order, and their outcomes recorded; each
        delivery's outcome as alone."""
        outcomes: dict[int, Outcome] = {}
        for chunk in gathered.chunks():
            context = _batch_context(deliveries, chunk[0][0], at)
            answers = await self._processed([decided for _, decided in chunk], context)
            outcomes |= {n: outcome for (n, _), outcome in zip(chunk, answers, strict=True)}
        return outcomes

    async def _processed(
        self, items: Sequence[DeliveryDecided], context: CommandContext
    ) -> list[Outcome]:
        """One outcome per item. The bus checks the command's limits once; when it refuses it
        (rare: a payload's value past a limit), each run request is checked alone, and one
        past a limit is refused alone (its delivery's outcome says why) while the others are
        sent."""
        try:
            return await self._process(items, context)
        except InvalidValue:
            return await self._process([_checked_alone(item) for item in items], context)

    async def _process(
        self, items: Sequence[DeliveryDecided], context: CommandContext
    ) -> list[Outcome]:
        command = RequestRunsAndRecordOutcomes(deliveries=tuple(items))
        result = await self._dispatch(command, context)
        assert isinstance(result, DeliveriesProcessed)
        return result.outcomes


def _ask(
    delivery: ReceivedDelivery, facts: Push | PullRequest | Custom, candidate: Candidate
) -> RunAsk:
    command, actor, person = run_command(delivery, facts, candidate)
    return RunAsk(
        pipeline=f"pipeline {candidate.name} ({candidate.pipeline_id})",
        request=RunRequest(command=command, actor=actor, person=person),
    )


def _checked_alone(item: DeliveryDecided) -> DeliveryDecided:
    asks = []
    for ask in item.asks:
        try:
            asks.append(
                ask
                if ask.request is None
                else msgspec.structs.replace(ask, request=checked(ask.request))
            )
        except InvalidValue as error:
            asks.append(RunAsk(pipeline=ask.pipeline, refused=str(error)))
    return msgspec.structs.replace(item, asks=tuple(asks))


def _batch_context(
    deliveries: Sequence[ReceivedDelivery], first: int, at: datetime
) -> CommandContext:
    delivery = deliveries[first]
    return CommandContext(
        principal=_INTAKE,
        at=at,
        correlation_id=delivery.correlation_id or f"webhook:{delivery.stream_id}",
        causation_id=str(delivery.event_id),
    )
