"""The webhook process manager: a recorded delivery becomes run commands, then its outcome.

Triggers (push, tag_push, pull_request, merge_request, a generic kind) start one run per
active candidate pipeline whose trigger rules match the source kind, the event kind and the
ref (for a pull request, the branch it targets). Backflow creates or updates the external
run mirrored for `(source, provider, external id)`: the first delivery about it attaches it
to the first active pipeline of the project, in the order given (oldest first), with a
trigger on that source listing the backflow kind (`workflow_run`, `pipeline` or `build`) by
name and whose globs match the ref; with none, the delivery is ignored.

Every command runs as the source's system principal: `write` on the source's project only,
so a delivery can never start another project's pipeline. Ids and appends are idempotent
(keys derived from the delivery), so processing a delivery twice writes nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import Protocol, assert_never
from uuid import UUID

import msgspec

from commands.bus import CommandResult
from commands.context import CommandContext, Forbidden, Principal
from commands.jenkins_folding import JenkinsBuilds, folded_reason, jenkins_build
from commands.pipeline_file_intake import FileRefused, version_for_push
from commands.pipeline_files import RepositoryFiles
from commands.ports import Repository
from commands.runs import ReportRunStatus, TriggerRun
from commands.webhook_deliveries import RecordDeliveryOutcome
from commands.webhook_payloads import (
    MERGE_REQUEST,
    PULL_REQUEST,
    Backflow,
    Custom,
    Ignored,
    PullRequest,
    Push,
    UnreadablePayload,
    parse_delivery,
)
from domain.errors import AggregateNotFound, DomainError, IllegalTransition
from domain.limits import ACTOR_MAX, cut
from domain.run import Run
from domain.run_values import ExternalRef
from domain.trigger_spec import TriggerSpec
from domain.webhook_delivery import REASON_MAX, WebhookDelivery

ACTOR = "webhook-intake"
_SYNONYMS = {
    PULL_REQUEST: (PULL_REQUEST, MERGE_REQUEST),
    MERGE_REQUEST: (MERGE_REQUEST, PULL_REQUEST),
}
_REFUSED = (DomainError, Forbidden)
"""A command refused by a rule: recorded as the delivery's outcome, never retried."""


class ReceivedDelivery(msgspec.Struct, frozen=True, kw_only=True):
    """A recorded `WebhookReceived`, with the envelope fields the process manager needs."""

    stream_id: UUID
    event_id: UUID
    position: int
    source_id: UUID
    project_id: UUID
    source_kind: str
    delivery_id: str
    event: str
    content_type: str = ""
    payload: str
    correlation_id: str | None = None
    traceparent: str | None = None
    """The trace of the request that brought the delivery: the runs it starts continue it."""


class Candidate(msgspec.Struct, frozen=True, kw_only=True):
    """A pipeline of the source's project, with the triggers of its current version."""

    pipeline_id: UUID
    name: str
    active: bool
    triggers: tuple[TriggerSpec, ...]


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    outcome: str
    runs: tuple[UUID, ...] = ()
    reason: str = ""


class Dispatch(Protocol):
    async def __call__(self, command: object, context: CommandContext) -> CommandResult: ...


class Candidates(Protocol):
    """The pipelines a delivery may start: a question for the read side, answered by an adapter
    (commands never import projections)."""

    async def __call__(self, project_id: UUID, *, position: int) -> Sequence[Candidate]:
        """The project's pipelines, oldest first, as they stood at `position` (or later)."""


class WebhookIntake:
    """Processes deliveries through `dispatch` (the command bus, which does every write),
    reading with `repository`."""

    def __init__(
        self,
        dispatch: Dispatch,
        repository: Repository,
        candidates: Candidates,
        *,
        builds: JenkinsBuilds | None = None,
        files: RepositoryFiles | None = None,
    ) -> None:
        self._dispatch = dispatch
        self._repository = repository
        self._candidates = candidates
        self._builds = builds
        """Which jenkins step started a build: its notifications fold into that run."""
        self._files = files
        """Reads a pipeline's `repository_file` at a pushed sha (`pipeline_file_intake`)."""

    async def handle(self, delivery: ReceivedDelivery, *, at: datetime) -> Outcome:
        """Process the delivery unless it already has an outcome, and record the outcome."""
        record = await self._repository.get(WebhookDelivery, delivery.stream_id)
        if record.outcome is not None:
            return Outcome(outcome=record.outcome, runs=record.runs, reason=record.reason)
        return await self.record(delivery, await self.decide(delivery, at=at), at=at)

    async def record(
        self, delivery: ReceivedDelivery, outcome: Outcome, *, at: datetime
    ) -> Outcome:
        """Record `outcome` on the delivery's stream (the same outcome again writes nothing)."""
        await self._dispatch(*outcome_record(delivery, outcome, at))
        return outcome

    async def decide(self, delivery: ReceivedDelivery, *, at: datetime) -> Outcome:
        """Send the delivery's commands; what they did, as the outcome to record."""
        try:
            facts = parse_delivery(
                delivery.source_kind,
                delivery.event,
                delivery.payload,
                content_type=delivery.content_type,
            )
        except UnreadablePayload as error:
            return Outcome(outcome="failed", reason=str(error))
        match facts:
            case Ignored(reason=reason):
                return Outcome(outcome="ignored", reason=reason)
            case Push(deleted=True, ref=ref):
                return Outcome(outcome="ignored", reason=f"deleted ref {ref}")
            case Push() | PullRequest() | Custom():
                return await self._trigger(delivery, facts, at)
            case Backflow():
                return await self._mirror(delivery, facts, at)
            case _:
                assert_never(facts)

    async def _trigger(
        self,
        delivery: ReceivedDelivery,
        facts: Push | PullRequest | Custom,
        at: datetime,
    ) -> Outcome:
        candidates = await self._candidates(delivery.project_id, position=delivery.position)
        chosen = chosen_for(delivery, facts, candidates)
        if not chosen:
            return nothing_chosen(delivery, facts)
        runs: list[UUID] = []
        refused: list[str] = []
        for candidate in chosen:
            command, context = run_request(delivery, facts, candidate, at)
            version = None
            if isinstance(facts, Push):
                version = await version_for_push(
                    dispatch=self._dispatch,
                    repository=self._repository,
                    files=self._files,
                    pipeline_id=candidate.pipeline_id,
                    facts=facts,
                    delivery_id=delivery.delivery_id,
                    context=partial(_file_context, context),
                )
                if isinstance(version, FileRefused):
                    refused.append(f"pipeline {candidate.name} ({candidate.pipeline_id}): "
                                   f"{version.reason}")  # fmt: skip
                    continue
            command = msgspec.structs.replace(command, pipeline_version=version)
            try:
                runs.append(UUID((await self._dispatch(command, context)).id))
            except _REFUSED as error:
                refused.append(f"pipeline {candidate.name} ({candidate.pipeline_id}): {error}")
        return triggered(runs, refused)

    async def _mirror(self, delivery: ReceivedDelivery, facts: Backflow, at: datetime) -> Outcome:
        label = f"{facts.provider.value} run {facts.external_id}"
        if self._builds is not None and (build := jenkins_build(facts)) is not None:
            owner = await self._builds(
                delivery.project_id, *build, facts.url, position=delivery.position
            )
            if owner is not None:
                reason = folded_reason(label, owner, facts.status.value)
                return Outcome(outcome="updated", runs=(owner.run_id,), reason=reason)
        key = f"intake:{delivery.source_id}:{facts.provider.value}:{facts.external_id}"
        context = _context(delivery, facts.provider.value, at, key=key)
        run_id = context.new_id("run")  # the id TriggerRun gives it, on every delivery
        created = not await self._exists(run_id)
        if created:
            candidates = await self._candidates(delivery.project_id, position=delivery.position)
            home = next(
                (c for c in candidates if c.active and _mirrors(c, delivery.source_kind, facts)),
                None,
            )
            if home is None:
                return Outcome(
                    outcome="ignored",
                    reason=f"no pipeline mirrors {delivery.source_kind} {facts.kind}: {label}",
                )
            if facts.url is None:
                return Outcome(outcome="ignored", reason=f"{label} came without an absolute URL")
            command = TriggerRun(
                pipeline_id=home.pipeline_id,
                kind="webhook",
                ref=facts.ref,
                sha=facts.sha,
                event=facts.kind,
                delivery_id=delivery.delivery_id,
                external=ExternalRef(
                    provider=facts.provider, external_id=facts.external_id, url=facts.url
                ),
            )
            try:
                await self._dispatch(command, context)
            except _REFUSED as error:
                return Outcome(outcome="failed", reason=f"{label}: {error}")
        return await self._report(delivery, facts, run_id, created, label, at)

    async def _report(
        self,
        delivery: ReceivedDelivery,
        facts: Backflow,
        run_id: UUID,
        created: bool,
        label: str,
        at: datetime,
    ) -> Outcome:
        job = f" (job {facts.job.name} {facts.job.status.value})" if facts.job else ""
        context = _context(
            delivery, facts.provider.value, at, key=f"intake:{delivery.stream_id}:status"
        )
        # The provider's words for how it ended only describe it: cut, not refused.
        detail = cut(facts.detail, REASON_MAX)
        command = ReportRunStatus(run_id=run_id, status=facts.status.value, reason=detail)
        try:
            result = await self._dispatch(command, context)
        except IllegalTransition as error:
            # Deliveries arrive out of order: a late "in progress" must not undo "completed".
            return Outcome(outcome="ignored", runs=(run_id,), reason=f"stale: {label}: {error}")
        except _REFUSED as error:
            return Outcome(outcome="failed", runs=(run_id,), reason=f"{label}: {error}")
        said = f"{label} {facts.status.value}{job}"
        if created:
            return Outcome(outcome="triggered", runs=(run_id,), reason=said)
        if result.position is None and not result.duplicate:
            return Outcome(outcome="ignored", runs=(run_id,), reason=f"already so: {said}")
        return Outcome(outcome="updated", runs=(run_id,), reason=said)

    async def _exists(self, run_id: UUID) -> bool:
        try:
            await self._repository.get(Run, run_id)
        except AggregateNotFound:
            return False
        return True


def chosen_for(
    delivery: ReceivedDelivery, facts: Push | PullRequest | Custom, candidates: Sequence[Candidate]
) -> list[Candidate]:
    """The active candidates whose triggers want this delivery."""
    # Trigger globs match the branch a pull request targets; the run builds its head.
    match_ref = facts.base_ref if isinstance(facts, PullRequest) else facts.ref
    return [
        c
        for c in candidates
        if c.active and _matches(c, delivery.source_kind, facts.kind, match_ref)
    ]


def nothing_chosen(delivery: ReceivedDelivery, facts: Push | PullRequest | Custom) -> Outcome:
    match_ref = facts.base_ref if isinstance(facts, PullRequest) else facts.ref
    where = f" on {match_ref}" if match_ref else ""
    return Outcome(
        outcome="ignored",
        reason=f"no active pipeline triggers on {delivery.source_kind} {facts.kind}{where}",
    )


def run_request(
    delivery: ReceivedDelivery,
    facts: Push | PullRequest | Custom,
    candidate: Candidate,
    at: datetime,
) -> tuple[TriggerRun, CommandContext]:
    """The run `candidate` is asked for (its current version), in the context that keys it."""
    # Past a limit, what says what to build (repo, ref, sha, pull request, external id,
    # URL) is refused by the bus and the delivery records why (a cut sha builds something
    # else); the actor only says who pushed, so it is cut with a marker and the run goes on.
    actor = cut(facts.actor or delivery.source_kind, ACTOR_MAX)
    context = _context(
        delivery,
        actor,
        at,
        key=f"intake:{delivery.stream_id}:{candidate.pipeline_id}",
        person=bool(facts.actor) and facts.actor != delivery.source_kind,
    )
    command = TriggerRun(
        pipeline_id=candidate.pipeline_id,
        kind="webhook",
        repo=facts.repo or None,
        ref=facts.ref,
        sha=facts.sha,
        pull_request=facts.number if isinstance(facts, PullRequest) else None,
        event=facts.kind,
        delivery_id=delivery.delivery_id,
        provider=delivery.source_kind,
        clone_url=facts.clone_url,
        base_ref=facts.base_ref if isinstance(facts, PullRequest) else None,
    )
    return command, context


def triggered(runs: Sequence[UUID], refused: Sequence[str]) -> Outcome:
    if not runs:
        return Outcome(outcome="failed", reason="; ".join(refused))
    return Outcome(outcome="triggered", runs=tuple(runs), reason="; ".join(refused))


def outcome_record(
    delivery: ReceivedDelivery, outcome: Outcome, at: datetime
) -> tuple[RecordDeliveryOutcome, CommandContext]:
    """`RecordDeliveryOutcome` of `outcome`, in the intake's context for the delivery."""
    command = RecordDeliveryOutcome(
        delivery=delivery.stream_id,
        outcome=outcome.outcome,
        runs=outcome.runs,
        reason=cut(outcome.reason.strip(), REASON_MAX),  # it quotes the payload
    )
    return command, _context(delivery, ACTOR, at)


def _matches(candidate: Candidate, source: str, kind: str, ref: str | None) -> bool:
    kinds = _SYNONYMS.get(kind, (kind,))
    return any(t.matches(source, k, ref) for t in candidate.triggers for k in kinds)


def _mirrors(candidate: Candidate, source: str, facts: Backflow) -> bool:
    # Only a trigger naming the backflow kind: a pipeline on "any github event" is built
    # here, and mirroring someone else's runs into it would mix two histories.
    return any(
        facts.kind in t.events and t.matches(source, facts.kind, facts.ref)
        for t in candidate.triggers
    )


def _file_context(context: CommandContext, suffix: str) -> CommandContext:
    """The run's context, keyed apart for the pipeline file's command."""
    return msgspec.structs.replace(context, idempotency_key=f"{context.idempotency_key}:{suffix}")


def _context(
    delivery: ReceivedDelivery,
    actor: str,
    at: datetime,
    *,
    key: str | None = None,
    person: bool = False,
) -> CommandContext:
    principal = Principal(
        id=f"webhook-source:{delivery.source_id}",
        name=actor,
        project_id=delivery.project_id,
        scopes=frozenset({"write"}),
        person=person,
    )
    return CommandContext(
        principal=principal,
        at=at,
        correlation_id=delivery.correlation_id or f"webhook:{delivery.stream_id}",
        causation_id=str(delivery.event_id),
        traceparent=delivery.traceparent,
        idempotency_key=key,
    )
