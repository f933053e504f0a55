"""What a delivery asks for, decided without I/O: the candidates its triggers choose, the run
requested of each in the context that keys it, and the outcome record.

Every command runs as the source's system principal: `write` on the source's project only, so
a delivery can never start another project's pipeline. Keys are derived from the delivery, so
a delivery processed twice writes nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import msgspec

from commands.context import CommandContext, Forbidden, Principal
from commands.runs import TriggerRun
from commands.webhook_deliveries import RecordDeliveryOutcome
from commands.webhook_intake_types import Candidate, Outcome, ReceivedDelivery
from commands.webhook_payloads import (
    MERGE_REQUEST,
    PULL_REQUEST,
    Backflow,
    Custom,
    PullRequest,
    Push,
)
from domain.errors import DomainError
from domain.limits import ACTOR_MAX, cut
from domain.webhook_delivery import REASON_MAX

ACTOR = "webhook-intake"
REFUSED = (DomainError, Forbidden)
"""A command refused by a rule: recorded as the delivery's outcome, never retried."""
_SYNONYMS = {
    PULL_REQUEST: (PULL_REQUEST, MERGE_REQUEST),
    MERGE_REQUEST: (MERGE_REQUEST, PULL_REQUEST),
}


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
    command, actor, person = run_command(delivery, facts, candidate)
    context = intake_context(delivery, ACTOR, at)
    return command, run_context(context, delivery.stream_id, command, actor, person)


def run_command(
    delivery: ReceivedDelivery, facts: Push | PullRequest | Custom, candidate: Candidate
) -> tuple[TriggerRun, str, bool]:
    """The run `candidate` is asked for, and who asks: the pusher's name, and whether it is a
    person's."""
    # Past a limit, what says what to build (repo, ref, sha, pull request, external id,
    # URL) is refused by the bus and the delivery records why (a cut sha builds something
    # else); the actor only says who pushed, so it is cut with a marker and the run goes on.
    actor = cut(facts.actor or delivery.source_kind, ACTOR_MAX)
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
    return command, actor, bool(facts.actor) and facts.actor != delivery.source_kind


def run_context(
    delivery_context: CommandContext, stream_id: UUID, command: TriggerRun, actor: str, person: bool
) -> CommandContext:
    """A run's context, made from its delivery's (the outcome record's: `intake_context` as
    the intake): as the pusher, keyed by the delivery's stream and the pipeline. What it adds
    to a checked context cannot fail the boundary's check (a Principal has no limits, the key
    is ASCII of a fixed length), so a batch sends only the actor, and checks no context twice."""
    key = f"intake:{stream_id}:{command.pipeline_id}"
    principal = msgspec.structs.replace(delivery_context.principal, name=actor, person=person)
    return msgspec.structs.replace(delivery_context, principal=principal, idempotency_key=key)


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
    return command, intake_context(delivery, ACTOR, at)


def _matches(candidate: Candidate, source: str, kind: str, ref: str | None) -> bool:
    kinds = _SYNONYMS.get(kind, (kind,))
    return any(t.matches(source, k, ref) for t in candidate.triggers for k in kinds)


def mirrors(candidate: Candidate, source: str, facts: Backflow) -> bool:
    # Only a trigger naming the backflow kind: a pipeline on "any github event" is built
    # here, and mirroring someone else's runs into it would mix two histories.
    return any(
        facts.kind in t.events and t.matches(source, facts.kind, facts.ref)
        for t in candidate.triggers
    )


def file_context(context: CommandContext, suffix: str) -> CommandContext:
    """The run's context, keyed apart for the pipeline file's command."""
    return msgspec.structs.replace(context, idempotency_key=f"{context.idempotency_key}:{suffix}")


def intake_context(
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
