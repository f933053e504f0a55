"""Builds a step attempt's Job from its run and the pinned pipeline definition, and publishes it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from nats.js import JetStreamContext

from adapters.dispatch.needed_outputs import needed_outputs
from adapters.streaming.jobs import Job, encode_job, job_subject, publish_headers
from commands.ports import Repository
from domain.pipeline import Pipeline
from domain.pipeline_definition import PipelineDefinition, StepSpec
from domain.run import Run
from domain.run_dispatch import job_id_for

ACK_TIMEOUT_S = 5.0


def parameter_text(value: str | int | float | bool) -> str:
    """A run parameter as a step sees it in its environment: booleans as `true` / `false`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class JobPublisher:
    """Publishes jobs; definitions are cached, since a pinned version never changes."""

    def __init__(self, repository: Repository, js: JetStreamContext, stream: str) -> None:
        self._repository = repository
        self._js = js
        self._stream = stream
        self._definitions: dict[tuple[UUID, int], PipelineDefinition] = {}

    async def job(
        self,
        run_id: UUID,
        step: str,
        attempt: int,
        label: str,
        *,
        dispatched_at: datetime,
        traceparent: str | None,
    ) -> Job:
        (job,) = await self.jobs(
            run_id, [(step, attempt, label)], dispatched_at=dispatched_at, traceparent=traceparent
        )
        return job

    async def jobs(
        self,
        run_id: UUID,
        attempts: Sequence[tuple[str, int, str]],
        *,
        dispatched_at: datetime,
        traceparent: str | None,
    ) -> list[Job]:
        """The jobs of these (step, attempt, label) of one run, which is read once."""
        run = await self._repository.get(Run, run_id)
        definition = await self._definition(run.pipeline_id, run.pipeline_version)
        specs = {s.name: s for s in definition.steps}
        return [
            _job(run, specs[step], attempt, label, dispatched_at, traceparent)
            for step, attempt, label in attempts
        ]

    async def publish(self, job: Job) -> None:
        """Until JetStream acknowledges it; a copy inside the duplicate window is dropped there."""
        await self._js.publish(
            job_subject(job.label),
            encode_job(job),
            timeout=ACK_TIMEOUT_S,
            stream=self._stream,
            headers=publish_headers(job),
        )

    async def _definition(self, pipeline_id: UUID, version: int) -> PipelineDefinition:
        key = (pipeline_id, version)
        if key not in self._definitions:
            pipeline = await self._repository.get(Pipeline, pipeline_id)
            self._definitions[key] = pipeline.definition(version)
        return self._definitions[key]


def _job(
    run: Run,
    spec: StepSpec,
    attempt: int,
    label: str,
    dispatched_at: datetime,
    traceparent: str | None,
) -> Job:
    return Job(
        job_id=job_id_for(run.id, spec.name, attempt),
        run_id=run.id,
        project_id=run.project_id,
        pipeline_id=run.pipeline_id,
        pipeline_version=run.pipeline_version,
        step=spec.name,
        attempt=attempt,
        run=spec.run,
        env={**spec.env, **needed_outputs(run, spec.name)},
        parameters={k: parameter_text(v) for k, v in run.parameters.items()},
        timeout_s=run.plan[spec.name].timeout_s,
        label=label,
        dispatched_at=dispatched_at,
        traceparent=traceparent,
        log_seq=run.next_log_seq(spec.name),
        secrets=spec.secrets,
    )
