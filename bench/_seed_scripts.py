"""Recording for bench/projection.py's seeding: a few real runs sent through the command bus,
each run's events kept grouped by the command that made them (the scripts a History plays)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from adapters.platform.services import Services
from commands import pipelines, projects, run_reports, runs
from commands.context import CommandContext, Principal
from domain.pipeline_definition import PipelineDefinition
from domain.run_statuses import Provider
from domain.run_values import ExternalRef
from domain.step_spec import StepSpec

Event = tuple[str, int, dict[str, Any]]  # type, schema_version, data (occurred_at a datetime)
Script = list[tuple[str, list[Event]]]  # (what sent it, its events), one per command
STEPS = ("checkout", "build", "test", "package", "deploy")


@dataclass
class Scripts:
    project: Event
    pipelines: dict[int, Event]  # PipelineCreated by step count
    runs: dict[tuple[int, str, int], Script]  # (steps, outcome, the step it ended at)
    external: dict[str, Script]  # a run mirrored from another CI system, by outcome


class _Sender:
    def __init__(self, services: Services, at: datetime) -> None:
        self.services, self.at = services, at

    async def send(self, command: object, actor: str = "alice") -> tuple[UUID, int]:
        self.at += timedelta(seconds=1)
        who = Principal(id=f"key:{actor}", name=actor, project_id=None, scopes=frozenset({"admin"}))
        context = CommandContext(principal=who, at=self.at, correlation_id=uuid.uuid4().hex)
        result = await self.services.bus.dispatch(command, context)
        return UUID(result.id), result.version

    async def script(self, stream: UUID, ends: list[tuple[str, int]]) -> Script:
        """The stream's events, cut where each command's version ended."""
        events, start, script = await self.services.store.read_stream(str(stream)), 0, []
        for kind, end in ends:
            script.append((kind, [(e.type, e.schema_version, e.data) for e in events[start:end]]))
            start = end
        return script


async def record_scripts(services: Services, at: datetime) -> Scripts:
    """Real commands through the real bus: a pipeline of 3, 4 and 5 steps, and a run of each
    for each outcome (succeeded; failed or cancelled at each step); external runs too."""
    s = _Sender(services, at)
    slug = f"tpl-{uuid.uuid4().hex[:8]}"
    project, _ = await s.send(projects.CreateProject(name="Template", slug=slug))
    scripts = Scripts((await s.script(project, [("", 1)]))[0][1][0], {}, {}, {})
    for k in (3, 4, 5):
        steps = tuple(StepSpec(name=n, run=f"make {n}", timeout_s=1800) for n in STEPS[:k])
        definition = PipelineDefinition(name=f"ci-{k}", tags=("ci",), steps=steps)
        pipeline, _ = await s.send(
            pipelines.CreatePipeline(project_id=project, definition=definition)
        )
        scripts.pipelines[k] = (await s.script(pipeline, [("", 1)]))[0][1][0]
        ends = [("succeeded", k - 1)] + [(o, j) for o in ("failed", "cancelled") for j in range(k)]
        for outcome, j in ends:
            scripts.runs[(k, outcome, j)] = await _record_run(s, pipeline, k, outcome, j)
    ref = ExternalRef(provider=Provider.GITHUB_ACTIONS, external_id="1", url="https://ci.example/1")
    for outcome in ("succeeded", "failed", "cancelled"):
        run, v = await s.send(runs.TriggerRun(pipeline_id=pipeline, external=ref), "ci-bot")
        ends = [("trigger", v)]
        for status in ("running", outcome):
            command = run_reports.ReportRunStatus(run_id=run, status=status)
            ends.append(("status", (await s.send(command, "github"))[1]))
        scripts.external[outcome] = await s.script(run, ends)
    return scripts


async def _record_run(s: _Sender, pipeline: UUID, k: int, outcome: str, at_step: int) -> Script:
    run, v = await s.send(runs.TriggerRun(pipeline_id=pipeline))
    ends = [("trigger", v)]

    async def do(kind: str, command: object, actor: str = "runner-1") -> None:
        ends.append((kind, (await s.send(command, actor))[1]))

    def report(step: str, status: str, **more: Any) -> run_reports.ReportStepStatus:
        return run_reports.ReportStepStatus(run_id=run, step=step, status=status, **more)

    for i, step in enumerate(STEPS[:k]):
        await do("start", report(step, "running", runner="runner-1"))
        chunk = run_reports.LogChunk(seq=1, step=step, text=f"$ make {step}\n")
        await do("log", run_reports.AppendRunLogs(run_id=run, chunks=(chunk,)))
        if i == at_step and outcome == "cancelled":
            await do("cancel", runs.CancelRun(run_id=run, reason="superseded"), "alice")
            await do("end", report(step, "cancelled", reason="stopped by the runner"))
        elif i == at_step and outcome == "failed":
            await do("end", report(step, "failed", exit_code=1, reason="exit status 1"))
        else:
            await do("end", report(step, "succeeded", exit_code=0, metrics={"cpu_s": 1.0}))
            continue
        break
    return await s.script(run, ends)
