"""Determinism: replaying every stream from the store gives exactly the states the live system
holds, after a mixed workload sent through the real command bus.

"What the live system holds" is read two ways. (1) The write side: each aggregate as it stood
in memory right after its last successful save, built by the decisions themselves (events made
in memory and applied, never decoded from the store). (2) The runs read model, projected from
the feed: each replayed Run's status, times and steps must equal its row.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import random
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
from eventsourcing.domain import Aggregate

from adapters.platform.services import RandomSecrets, Services
from adapters.store.heartbeats import PgHeartbeats
from adapters.store.reader import current_envelopes, read_stream_current
from adapters.store.repository import Repository
from adapters.store.rows import envelope_from_row
from adapters.webhooks.intake import received
from commands import api_keys, pipelines, projects, run_reports, runs, webhook_sources
from commands.bus import CommandBus, Dependencies
from commands.handlers import HANDLERS
from commands.webhook_intake import Candidate, WebhookIntake
from domain.errors import DomainError
from domain.pipeline_definition import PipelineDefinition
from domain.registry import EventRecord, default_registry
from domain.run import Run
from domain.run_statuses import Provider
from domain.run_values import ExternalRef
from domain.step_spec import StepSpec
from domain.trigger_spec import TriggerSpec
from domain.webhook_delivery import WebhookDelivery, delivery_stream_id
from projections.run_queries import get_run
from projections.runs import RunsProjection
from tests.integration.read_models.conftest import Driver, apply_in_batches, make_schema

STEPS = (
    StepSpec(name="checkout", run="git"),
    StepSpec(name="build", run="make", needs=("checkout",), retries=1),
    StepSpec(name="lint", run="lint", needs=("checkout",), allow_failure=True),
    StepSpec(name="test", run="pytest", needs=("build",)),
    StepSpec(name="deploy", run="ship", needs=("test", "lint")),
)
DEPLOY_HOOK = TriggerSpec(source="generic", events=("deploy",), branches=("main",))


class RecordingRepository(Repository):
    """The real repository; it also keeps each aggregate as it stood after its last save."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.live: dict[str, Aggregate] = {}

    async def save(self, aggregate: Aggregate, **kwargs: Any):
        result = await super().save(aggregate, **kwargs)
        if result is not None and not result.duplicate:
            self.live[str(aggregate.id)] = copy.deepcopy(aggregate)
        return result


def state(aggregate: Aggregate) -> dict[str, Any]:
    """Everything an aggregate holds, pending events aside."""
    return {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}


class Workload:
    """Sends a mixed, seeded-random workload through the bus, as users, runners and hooks do."""

    def __init__(self, services: Services, repository: RecordingRepository, seed: int) -> None:
        self.repository = repository
        self.driver = Driver(services)
        self.rng = random.Random(seed)
        self.runs: list[UUID] = []

    async def attempt(self, command: object, actor: str = "runner-1") -> None:
        # A refusal (the run moved on) is part of the workload, as a 409 is for a client.
        with contextlib.suppress(DomainError):
            await self.driver.send(command, actor=actor)

    async def catalog(self) -> tuple[UUID, UUID, UUID]:
        d = self.driver
        project = await d.project("Determinism")
        await d.send(projects.RenameProject(project_id=project, name="Determinism, renamed"))
        spare = await d.project("Spare")
        await d.send(projects.ArchiveProject(project_id=spare))
        pipeline = await d.pipeline(project, steps=STEPS, triggers=(DEPLOY_HOOK,))
        second = await d.pipeline(project, name="nightly", steps=STEPS[:2])
        await d.send(
            pipelines.DefinePipelineVersion(
                pipeline_id=second,
                definition=PipelineDefinition(name="nightly", steps=STEPS[:3]),
            )
        )
        await d.send(pipelines.DeactivatePipeline(pipeline_id=second))
        await d.send(pipelines.ActivatePipeline(pipeline_id=second))
        key = await d.send(api_keys.IssueApiKey(name="bot", scopes=("read",), project_id=project))
        await d.send(api_keys.RevokeApiKey(key_id=UUID(key.id), reason="leaked"))
        source = await d.send(
            webhook_sources.RegisterWebhookSource(project_id=project, kind="generic", name="hk")
        )
        await d.send(webhook_sources.RotateWebhookSecret(source_id=UUID(source.id)))
        return project, pipeline, UUID(source.id)

    async def drive(self, run: UUID) -> None:
        """Steps in plan order, each running then succeeding or failing, with logs; at times
        a cancel half-way; a finished failure is sometimes retried."""
        rng, d = self.rng, self.driver
        self.runs.append(run)
        for name in [s.name for s in STEPS]:
            if rng.random() < 0.1:
                await self.attempt(runs.CancelRun(run_id=run, reason="enough"), actor="carol")
            for attempt in (1, 2):
                await self.attempt(
                    run_reports.ReportStepStatus(
                        run_id=run, step=name, status="running", attempt=attempt
                    )
                )
                live = await self.repository.get(Run, run)
                if name in live.steps and live.steps[name].status.value == "running":
                    seq = live.next_log_seq(name)
                    chunk = run_reports.LogChunk(seq=seq, text=f"{name} #{attempt}\n", step=name)
                    await self.attempt(run_reports.AppendRunLogs(run_id=run, chunks=(chunk,)))
                outcome = "failed" if rng.random() < 0.25 else "succeeded"
                await self.attempt(
                    run_reports.ReportStepStatus(
                        run_id=run,
                        step=name,
                        status=outcome,
                        attempt=attempt,
                        exit_code=1 if outcome == "failed" else 0,
                        metrics={"tokens": float(rng.randrange(100))},
                    )
                )
                if outcome == "succeeded":
                    break
        final = await self.repository.get(Run, run)
        if final.status.finished and final.status.value != "succeeded" and rng.random() < 0.5:
            retried = await d.send(runs.RetryRun(run_id=run))
            await self.drive(UUID(retried.id))

    async def external(self, pipeline: UUID) -> None:
        ref = ExternalRef(provider=Provider.GITLAB, external_id="77", url="https://gl.example/77")
        run = await self.driver.trigger(pipeline, external=ref)
        self.runs.append(run)
        for status in ("running", "succeeded"):
            await self.driver.send(
                run_reports.ReportRunStatus(run_id=run, status=status), actor="gitlab"
            )

    async def webhook(self, project: UUID, pipeline: UUID, source: UUID) -> None:
        """A delivery recorded as ingestion does, then turned into a run by the intake."""
        services = self.driver.services
        delivery_id = uuid4().hex
        payload = '{"type": "deploy", "ref": "refs/heads/main", "repo": "acme/app", "sha": "f00"}'
        delivery = WebhookDelivery.receive(
            id=delivery_stream_id(source, delivery_id),
            source_id=source,
            project_id=project,
            source_kind="generic",
            delivery_id=delivery_id,
            event="deploy",
            headers={"content-type": "application/json"},
            content_type="application/json",
            payload=payload,
            at=self.driver.tick(),
        )
        await self.repository.save(delivery)
        (envelope,) = await read_stream_current(services.store.pool, str(delivery.id))
        pipe = await self.repository.get(pipelines.Pipeline, pipeline)

        async def candidates(_project: object, *, position: int) -> list[Candidate]:
            triggers = pipe.definition(pipe.current_version).triggers
            return [Candidate(pipeline_id=pipeline, name="ci", active=True, triggers=triggers)]

        intake = WebhookIntake(services.bus.dispatch, self.repository, candidates)
        outcome = await intake.handle(received(envelope), at=self.driver.tick())
        assert outcome.outcome == "triggered", outcome
        await self.drive(outcome.runs[0])


async def test_replaying_every_stream_gives_the_live_states(
    scratch_services: Services, scratch_url: str
) -> None:
    registry = default_registry()
    repository = RecordingRepository(scratch_services.store, registry)
    bus = CommandBus(
        HANDLERS,
        Dependencies(
            repository=repository,
            sealer=scratch_services.box,
            secrets=RandomSecrets(),
            heartbeats=PgHeartbeats(scratch_services.store.pool),
        ),
    )
    services = dataclasses.replace(scratch_services, repository=repository, bus=bus)
    work = Workload(services, repository, seed=8)
    project, pipeline, source = await work.catalog()
    for _ in range(6):
        await work.drive(await work.driver.trigger(pipeline, actor=work.rng.choice(["al", "bo"])))
        work.driver.tick(work.rng.uniform(0, 30))
    await work.external(pipeline)
    await work.webhook(project, pipeline, source)
    work.driver.now += timedelta(hours=1)

    # Replay every stream from the global feed into fresh aggregates.
    conn = await asyncpg.connect(scratch_url)
    try:
        rows = await conn.fetch("SELECT * FROM events ORDER BY position")
    finally:
        await conn.close()
    replayed: dict[str, Aggregate] = {}
    for envelope in (envelope_from_row(row) for row in rows):
        record = EventRecord(
            type=envelope.type, schema_version=envelope.schema_version, data=envelope.data
        )
        event = registry.decode(
            record, originator_id=UUID(envelope.stream_id), originator_version=envelope.version
        )
        replayed[envelope.stream_id] = event.mutate(replayed.get(envelope.stream_id))

    kinds = {type(a).__name__ for a in replayed.values()}
    assert kinds == {"Project", "Pipeline", "Run", "ApiKey", "WebhookSource", "WebhookDelivery"}
    assert len(work.runs) >= 8 and set(repository.live) == set(replayed)
    for stream_id, aggregate in replayed.items():
        assert state(aggregate) == state(repository.live[stream_id]), stream_id

    # The runs read model, projected from the same feed, agrees with every replayed run.
    schema = await make_schema(scratch_services.store.pool, RunsProjection())
    await apply_in_batches(
        scratch_services.store.pool,
        RunsProjection(),
        schema,
        await current_envelopes(scratch_services.store.pool, rows),
    )
    for run_id in work.runs:
        run = replayed[str(run_id)]
        row = await get_run(scratch_services.store.pool, schema, run_id)
        assert row is not None
        assert (row.status, row.started_at, row.finished_at, row.stream_version) == (
            run.status,
            run.started_at,
            run.finished_at,
            run.version,
        )
        assert {s.name: (s.status, s.attempt, s.exit_code) for s in row.steps} == {
            name: (s.status, s.attempt, s.exit_code) for name, s in run.steps.items()
        }
