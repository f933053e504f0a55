"""Builds a step attempt's Job from its run and the pinned pipeline definition, and publishes it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec
from nats.js import JetStreamContext

from adapters.dispatch.job_files import job_files
from adapters.dispatch.needed_outputs import needed_outputs as direct_outputs
from adapters.store.personal.cipher import PREFIX as SEALED
from adapters.store.reader import read_first_current
from adapters.streaming.jobs import (
    Job,
    JobCheckout,
    JobJenkins,
    encode_job,
    job_subject,
    publish_headers,
)
from commands.ports import Repository
from domain.pipeline import Pipeline
from domain.pipeline_definition import PipelineDefinition
from domain.run import Run
from domain.run_context import context_env, needed_outputs, trigger_facts
from domain.run_dispatch import job_id_for
from domain.run_expansion import matrix_env, with_matrix
from domain.run_values import StepPlan
from domain.step_options import checkout_of
from domain.step_spec import StepSpec
from domain.templates import Reference, context_lookup, render

Lookup = Callable[[Reference], str | None]

ACK_TIMEOUT_S = 5.0


def parameter_text(value: str | int | float | bool) -> str:
    """A run parameter as a step sees it in its environment: booleans as `true` / `false`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class JobPublisher:
    """Publishes jobs; definitions are cached, since a pinned version never changes."""

    def __init__(
        self,
        repository: Repository,
        js: JetStreamContext,
        stream: str,
        *,
        pool: asyncpg.Pool | None = None,
        default_branch: str = "main",
        workspace_retention_days: int = 1,
    ) -> None:
        self._file_defaults = (default_branch, workspace_retention_days)
        self._repository = repository
        self._pool = pool
        """Opens a sealed actor for FLOWLEDGER_TRIGGER_ACTOR; without it, no actor is passed."""
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
        decided: Run | None = None,
    ) -> list[Job]:
        """The jobs of these (step, attempt, label) of one run, which is read once; or not
        read, when they are its first wave and `decided` is the run that recorded them
        (`first_wave`)."""
        run = self._first_wave(decided, attempts) or await self._repository.get(Run, run_id)
        definition = await self._definition(run.pipeline_id, run.pipeline_version)
        specs = {s.name: s for s in definition.steps}
        actor = await self._actor(run)
        return [
            msgspec.structs.replace(
                _job(
                    run,
                    step,
                    specs[run.plan[step].source],
                    attempt,
                    label,
                    dispatched_at,
                    traceparent,
                    actor,
                ),
                files=job_files(
                    run, definition, specs[run.plan[step].source], *self._file_defaults, step=step
                ),
            )
            for step, attempt, label in attempts
        ]

    def _first_wave(
        self, decided: Run | None, attempts: Sequence[tuple[str, int, str]]
    ) -> Run | None:
        """`decided` (the run as the command that recorded these jobs left it), when every job
        is a first attempt of a step that needs none. Such a job is made of what the run was
        requested with (trigger, parameters, plan) and the pinned definition; of the run's
        later state only whether a step after it ends without running (a cancelled run) could
        change it (its `dependents`), and a read just after the record would miss that too. A
        job that needs steps names their workspaces and outputs, which move: it reads the run
        (`4616de6`). Only with the definition kept and the actor in clear: nothing below
        awaits before the jobs are built, so a run the cache shares cannot move meanwhile."""
        if decided is None or decided.pending_events:
            return None
        if decided.trigger.actor.startswith(SEALED):
            return None
        if (decided.pipeline_id, decided.pipeline_version) not in self._definitions:
            return None
        first = all(
            attempt == 1 and step in decided.plan and not decided.plan[step].needs
            for step, attempt, _ in attempts
        )
        return decided if first else None

    async def _actor(self, run: Run) -> str | None:
        """Who triggered the run, in clear: a person's name is sealed in the aggregate."""
        if not run.trigger.actor.startswith(SEALED):
            return run.trigger.actor
        if self._pool is None:
            return None
        requested = await read_first_current(self._pool, str(run.id))
        actor = requested and requested.data.get("trigger", {}).get("actor")
        return actor if isinstance(actor, str) and not actor.startswith(SEALED) else None

    async def publish(self, job: Job) -> None:
        """Until JetStream acknowledges it; a copy inside the duplicate window is dropped there."""
        await self._js.publish(
            job_subject(job.label),
            encode_job(job),
            timeout=ACK_TIMEOUT_S,
            stream=self._stream,
            headers=publish_headers(job),
        )

    async def definition(self, pipeline_id: UUID, version: int) -> PipelineDefinition:
        """A pinned definition, read once and kept."""
        return await self._definition(pipeline_id, version)

    async def _definition(self, pipeline_id: UUID, version: int) -> PipelineDefinition:
        key = (pipeline_id, version)
        if key not in self._definitions:
            pipeline = await self._repository.get(Pipeline, pipeline_id)
            self._definitions[key] = pipeline.definition(version)
        return self._definitions[key]


def _job(
    run: Run,
    step: str,
    spec: StepSpec,
    attempt: int,
    label: str,
    dispatched_at: datetime,
    traceparent: str | None,
    actor: str | None,
) -> Job:
    plan = run.plan[step]
    parameters = {k: parameter_text(v) for k, v in run.parameters.items()}
    facts = trigger_facts(run.trigger, actor=actor)
    outputs = needed_outputs(
        step, run.plan, {name: state.outputs for name, state in run.steps.items()}
    )
    lookup = context_lookup(outputs, parameters, facts)
    return Job(
        job_id=job_id_for(run.id, step, attempt),
        run_id=run.id,
        project_id=run.project_id,
        pipeline_id=run.pipeline_id,
        pipeline_version=run.pipeline_version,
        step=step,
        attempt=attempt,
        # Matrix values first: the templates left are the other contexts' (domain/templates).
        run=render(with_matrix(spec.run, plan), lookup),
        env={
            **matrix_env(plan),
            **{key: render(with_matrix(value, plan), lookup) for key, value in spec.env.items()},
            **direct_outputs(run, step),
        },
        parameters=parameters,
        timeout_s=plan.timeout_s,
        label=label,
        dispatched_at=dispatched_at,
        traceparent=traceparent,
        log_seq=run.next_log_seq(step),
        secrets=spec.secrets,
        context=context_env(facts, outputs),
        checkout=_checkout(run, spec),
        jenkins=_jenkins(spec, plan, lookup),
    )


def _jenkins(spec: StepSpec, plan: StepPlan, lookup: Lookup) -> JobJenkins | None:
    if spec.jenkins is None:
        return None
    jenkins = spec.jenkins
    return JobJenkins(
        url=jenkins.url,
        job=jenkins.job,
        user=jenkins.user,
        token_secret=jenkins.token_secret,
        parameters={
            name: render(with_matrix(value, plan), lookup)
            for name, value in jenkins.parameters.items()
        },
    )


def _checkout(run: Run, spec: StepSpec) -> JobCheckout | None:
    if (checkout := checkout_of(spec)) is None:
        return None
    return JobCheckout(
        url=run.trigger.clone_url,
        sha=run.trigger.sha,
        ref=run.trigger.ref,
        depth=checkout.depth,
        path=checkout.path,
        submodules=checkout.submodules,
        token_secret=checkout.token_secret,
        username=checkout.username,
    )
