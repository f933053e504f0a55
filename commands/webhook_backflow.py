"""Backflow: a provider's own run (a GitHub workflow run, a GitLab pipeline, a Jenkins build)
mirrored as a run here, created by its first delivery and updated by the later ones.

The first delivery about `(source, provider, external id)` attaches the mirror to the first
active pipeline of the project, in the order given (oldest first), with a trigger on that
source listing the backflow kind (`workflow_run`, `pipeline` or `build`) by name and whose
globs match the ref; with none, the delivery is ignored. A Jenkins build that a step here
started folds into that step's run instead.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from commands.jenkins_folding import JenkinsBuilds, folded_reason, jenkins_build
from commands.ports import Repository
from commands.run_reports import ReportRunStatus
from commands.runs import TriggerRun
from commands.webhook_intake_requests import REFUSED, intake_context, mirrors
from commands.webhook_intake_types import Candidates, Dispatch, Outcome, ReceivedDelivery
from commands.webhook_payloads import Backflow
from domain.errors import AggregateNotFound, IllegalTransition
from domain.limits import cut
from domain.run import Run
from domain.run_values import ExternalRef
from domain.webhook_delivery import REASON_MAX


class BackflowMirror:
    def __init__(
        self,
        dispatch: Dispatch,
        repository: Repository,
        candidates: Candidates,
        builds: JenkinsBuilds | None,
    ) -> None:
        self._dispatch = dispatch
        self._repository = repository
        self._candidates = candidates
        self._builds = builds
        """Which jenkins step started a build: its notifications fold into that run."""

    async def mirror(self, delivery: ReceivedDelivery, facts: Backflow, at: datetime) -> Outcome:
        label = f"{facts.provider.value} run {facts.external_id}"
        if self._builds is not None and (build := jenkins_build(facts)) is not None:
            owner = await self._builds(
                delivery.project_id, *build, facts.url, position=delivery.position
            )
            if owner is not None:
                reason = folded_reason(label, owner, facts.status.value)
                return Outcome(outcome="updated", runs=(owner.run_id,), reason=reason)
        key = f"intake:{delivery.source_id}:{facts.provider.value}:{facts.external_id}"
        context = intake_context(delivery, facts.provider.value, at, key=key)
        run_id = context.new_id("run")  # the id TriggerRun gives it, on every delivery
        created = not await self._exists(run_id)
        if created:
            candidates = await self._candidates(delivery.project_id, position=delivery.position)
            home = next(
                (c for c in candidates if c.active and mirrors(c, delivery.source_kind, facts)),
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
            except REFUSED as error:
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
        context = intake_context(
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
        except REFUSED as error:
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
