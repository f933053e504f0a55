"""The webhook process manager over a batch of deliveries: one read, one append of runs, one of
outcomes, where one delivery at a time cost some eight round trips each.

Decisions are `WebhookIntake`'s, delivery by delivery and in order; only the reads and writes
are gathered (`commands/webhook_batches.py`). A delivery that needs more than its candidates
(a pipeline file to read at the pushed sha, a backflow run to mirror) is handed to
`WebhookIntake.decide` on its own, after the runs gathered before it are requested: a
project's runs keep the order of its pushes. Deliveries already processed are skipped, and
every run and outcome is keyed as alone, so a replayed batch writes nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from commands.boundary import checked
from commands.context import CommandContext, Principal
from commands.ports import Repository
from commands.runs import TriggerRun
from commands.webhook_batches import (
    ITEMS_MAX,
    OutcomeRecord,
    RecordDeliveryOutcomes,
    RunRequest,
    RunRequested,
    RunsRequested,
    TriggerRunsInOrder,
)
from commands.webhook_intake import WebhookIntake
from commands.webhook_intake_requests import (
    ACTOR,
    chosen_for,
    nothing_chosen,
    outcome_record,
    run_request,
    triggered,
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
from domain.pipeline import Pipeline
from domain.webhook_delivery import WebhookDelivery

_INTAKE = Principal(id="webhook-intake", name=ACTOR, project_id=None, scopes=frozenset({"write"}))
"""Who sends the batches; each item is decided as its own principal."""


class _Gathered:
    """Run requests gathered for consecutive deliveries, not yet sent, in candidate order."""

    def __init__(self) -> None:
        self.items: list[tuple[int, Candidate, RunRequest]] = []

    def add(
        self, n: int, candidate: Candidate, command: TriggerRun, context: CommandContext
    ) -> None:
        self.items.append((n, candidate, RunRequest(command=command, context=context)))


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
        await self._record(deliveries, decided, at)
        return [outcomes.get(n) or decided[n] for n in range(len(deliveries))]

    async def _decide(
        self, deliveries: Sequence[ReceivedDelivery], todo: Sequence[int], at: datetime
    ) -> dict[int, Outcome]:
        candidates: dict[UUID, Sequence[Candidate]] = {}
        for project in {deliveries[n].project_id for n in todo}:
            last = max(deliveries[n].position for n in todo if deliveries[n].project_id == project)
            candidates[project] = await self._candidates(project, position=last)
        wanted = {c.pipeline_id for found in candidates.values() for c in found if c.active}
        pipelines = await self._repository.get_many(Pipeline, wanted) if wanted else {}
        decided: dict[int, Outcome] = {}
        gathered = _Gathered()
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
                decided[n] = Outcome(outcome="failed", reason=str(error))
                continue
            match facts:
                case Ignored(reason=reason):
                    decided[n] = Outcome(outcome="ignored", reason=reason)
                case Push(deleted=True, ref=ref):
                    decided[n] = Outcome(outcome="ignored", reason=f"deleted ref {ref}")
                case Push() | PullRequest() | Custom():
                    chosen = chosen_for(delivery, facts, candidates[delivery.project_id])
                    if not chosen:
                        decided[n] = nothing_chosen(delivery, facts)
                    elif isinstance(facts, Push) and not _plain(chosen, pipelines):
                        decided |= await self._send(gathered, deliveries, at)
                        decided[n] = await self._intake.decide(delivery, at=at)
                    else:
                        for candidate in chosen:
                            gathered.add(n, candidate, *run_request(delivery, facts, candidate, at))
                case Backflow():
                    decided |= await self._send(gathered, deliveries, at)
                    decided[n] = await self._intake.decide(delivery, at=at)
        decided |= await self._send(gathered, deliveries, at)
        return decided

    async def _send(
        self, gathered: _Gathered, deliveries: Sequence[ReceivedDelivery], at: datetime
    ) -> dict[int, Outcome]:
        """The gathered runs requested, in order; each delivery's outcome as alone."""
        answers: list[RunRequested] = []
        for start in range(0, len(gathered.items), ITEMS_MAX):
            chunk = gathered.items[start : start + ITEMS_MAX]
            context = _batch_context(deliveries, chunk[0][0], at)
            answers += await self._requested([request for _, _, request in chunk], context)
        runs: dict[int, list[UUID]] = {}
        refused: dict[int, list[str]] = {}
        for (n, candidate, _), answer in zip(gathered.items, answers, strict=True):
            runs.setdefault(n, [])
            refused.setdefault(n, [])
            if answer.run_id is not None:
                runs[n].append(answer.run_id)
            else:
                label = f"pipeline {candidate.name} ({candidate.pipeline_id})"
                refused[n].append(f"{label}: {answer.refused}")
        gathered.items.clear()
        return {n: triggered(runs[n], refused[n]) for n in runs}

    async def _requested(
        self, requests: Sequence[RunRequest], context: CommandContext
    ) -> list[RunRequested]:
        """One answer per request. The bus checks the batch's limits once; when it refuses the
        batch (rare: a payload's value past a limit), each request is checked alone, and one
        past a limit is refused alone while the others are sent."""
        try:
            return await self._trigger(requests, context)
        except InvalidValue:
            return await self._requested_one_by_one(requests, context)

    async def _requested_one_by_one(
        self, requests: Sequence[RunRequest], context: CommandContext
    ) -> list[RunRequested]:
        answers: dict[int, RunRequested] = {}
        valid: list[tuple[int, RunRequest]] = []
        for i, request in enumerate(requests):
            try:
                valid.append((i, checked(request)))
            except InvalidValue as error:
                answers[i] = RunRequested(refused=str(error))
        if valid:
            sent = await self._trigger([request for _, request in valid], context)
            answers |= {i: answer for (i, _), answer in zip(valid, sent, strict=True)}
        return [answers[i] for i in range(len(requests))]

    async def _trigger(
        self, requests: Sequence[RunRequest], context: CommandContext
    ) -> list[RunRequested]:
        result = await self._dispatch(TriggerRunsInOrder(requests=tuple(requests)), context)
        assert isinstance(result, RunsRequested)
        return result.requested

    async def _record(
        self, deliveries: Sequence[ReceivedDelivery], decided: dict[int, Outcome], at: datetime
    ) -> None:
        order = sorted(decided)
        for start in range(0, len(order), ITEMS_MAX):
            chunk = order[start : start + ITEMS_MAX]
            records = tuple(
                OutcomeRecord(command=command, context=context)
                for command, context in (
                    outcome_record(deliveries[n], decided[n], at) for n in chunk
                )
            )
            context = _batch_context(deliveries, chunk[0], at)
            await self._dispatch(RecordDeliveryOutcomes(records=records), context)


def _plain(chosen: Sequence[Candidate], pipelines: dict[UUID, Pipeline]) -> bool:
    """Whether every chosen pipeline runs its current version (no file to read at the sha)."""
    return all(
        (p := pipelines.get(c.pipeline_id)) is not None and p.definition().repository_file is None
        for c in chosen
    )


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
