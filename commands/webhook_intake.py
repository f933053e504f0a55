"""The webhook process manager: a recorded delivery becomes run commands, then its outcome.

Triggers (push, tag_push, pull_request, merge_request, a generic kind) start one run per
active candidate pipeline whose trigger rules match the source kind, the event kind and the
ref (for a pull request, the branch it targets); what each asks for is decided in
`commands/webhook_intake_requests.py`. Backflow creates or updates the external run mirrored
for `(source, provider, external id)` (`commands/webhook_backflow.py`).

Every command runs as the source's system principal: `write` on the source's project only,
so a delivery can never start another project's pipeline. Ids and appends are idempotent
(keys derived from the delivery), so processing a delivery twice writes nothing twice.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import assert_never
from uuid import UUID

import msgspec

from commands.jenkins_folding import JenkinsBuilds
from commands.pipeline_file_intake import FileRefused, version_for_push
from commands.pipeline_files import RepositoryFiles
from commands.ports import Repository
from commands.webhook_backflow import BackflowMirror
from commands.webhook_intake_requests import (
    REFUSED,
    chosen_for,
    file_context,
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
from domain.webhook_delivery import WebhookDelivery

__all__ = ["Candidate", "Candidates", "Dispatch", "Outcome", "ReceivedDelivery", "WebhookIntake"]


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
        self._backflow = BackflowMirror(dispatch, repository, candidates, builds)
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
                return await self._backflow.mirror(delivery, facts, at)
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
                    context=partial(file_context, context),
                )
                if isinstance(version, FileRefused):
                    refused.append(f"pipeline {candidate.name} ({candidate.pipeline_id}): "
                                   f"{version.reason}")  # fmt: skip
                    continue
            command = msgspec.structs.replace(command, pipeline_version=version)
            try:
                runs.append(UUID((await self._dispatch(command, context)).id))
            except REFUSED as error:
                refused.append(f"pipeline {candidate.name} ({candidate.pipeline_id}): {error}")
        return triggered(runs, refused)
