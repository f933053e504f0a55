"""Seeding for bench/projection.py: events exactly as the domain makes them, made fast.

`record_scripts` sends a few real runs through the command bus (each pipeline size, each way
a run ends) and keeps each run's events grouped by the command that made them. `History` then
plays thousands of runs from those scripts at once, interleaved as concurrent runs are, with
new ids, times, triggers, runners, metrics and log text: values change, never a type name or
a shape. `copy_events` writes what it plays with COPY, numbering positions and versions and
chaining each stream's hashes exactly as `append_batch` does; the live phase of the benchmark
sends the same commands' events through `EventStore.append` instead.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

import asyncpg
import msgspec

from adapters.platform.services import Services
from adapters.store import EventStore, NewEvent
from adapters.store.encoding import GENESIS_HASH, canonical_bytes, chain_hash, encode_metadata
from adapters.store.migrations import migrate
from adapters.store.reader import head
from commands import pipelines, projects, run_reports, runs
from commands.context import CommandContext, Principal
from domain.envelope import EventMetadata
from domain.pipeline import Pipeline
from domain.pipeline_definition import PipelineDefinition
from domain.project import Project
from domain.run import Run
from domain.run_statuses import Provider
from domain.run_values import ExternalRef
from domain.step_spec import StepSpec
from projections.catalog import by_name
from projections.runtime import Projector

Event = tuple[str, int, dict[str, Any]]  # type, schema_version, data (occurred_at a datetime)
Script = list[tuple[str, list[Event]]]  # (what sent it, its events), one per command
STEPS = ("checkout", "build", "test", "package", "deploy")
OUTCOMES = ["succeeded"] * 7 + ["failed"] * 2 + ["cancelled"]  # 70 / 20 / 10 %
BRANCHES = ["main"] * 8 + ["develop"] * 2 + ["release/2.4", "release/2.5"]
ACTORS = ("alice", "bob", "carol", "dave", "erin", "ci-bot", "release-bot")
WORDS = ("compiling", "linking", "fetching", "running", "passed", "cached", "module", "test")
COLUMNS = (
    "position", "event_id", "stream_id", "stream_type", "version", "type", "schema_version",
    "recorded_at", "data", "metadata", "hash",
)  # fmt: skip
_encode = msgspec.json.Encoder(order="sorted").encode  # the store's canonical data bytes


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


@dataclass
class Append:
    """One command's events on one stream, as the store would be asked to append them."""

    stream_id: str
    stream_type: str
    events: list[Event]
    actor: str
    at: datetime


@dataclass
class RunPlay:
    """One run's commands, each given its time as it is played."""

    run_id: str
    commands: list[tuple[str, list[Event]]]  # actor, events with placeholder times
    started: dict[str, datetime] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return not self.commands

    def next(self, at: datetime) -> Append:
        actor, events = self.commands.pop(0)
        played = []
        for type_, schema_version, data in events:
            data = {**data, "occurred_at": at}
            if type_ == "StepStarted":
                self.started[data["step"]] = at
            elif "duration_ms" in data:  # as the Run computes it
                data["duration_ms"] = max(0, (at - self.started[data["step"]]) // _MS)
            played.append((type_, schema_version, data))
        return Append(self.run_id, "run", played, actor, at)


_MS = timedelta(milliseconds=1)


class History:
    """Projects, pipelines and runs played from the scripts, with values of their own."""

    def __init__(self, scripts: Scripts, *, start: datetime, projects: int, seed: int = 7) -> None:
        self.scripts, self.at, self.rng = scripts, start, random.Random(seed)
        self.n_projects = projects
        self.projects: list[str] = []
        self.pipelines: list[tuple[str, str, int]] = []  # id, project id, step count
        self.texts = [self._text() for _ in range(500)]

    def catalog(self, per_project: int = 5) -> Iterator[Append]:
        """The projects and their pipelines (of 3 to 5 steps)."""
        for p in range(self.n_projects):
            project = str(uuid.uuid4())
            self.projects.append(project)
            self.at += timedelta(minutes=5)
            name = f"Service {p:03d}"
            data = {**self.scripts.project[2], "name": name, "slug": f"service-{p:03d}"}
            yield Append(project, "project", [(*self.scripts.project[:2], data)], "alice", self.at)
            for n in range(per_project):
                k = 3 + (p + n) % 3
                type_, sv, template = self.scripts.pipelines[k]
                pipeline = str(uuid.uuid4())
                self.pipelines.append((pipeline, project, k))
                definition = {**template["definition"], "name": f"{name} pipeline {n}"}
                data = {**template, "project_id": project, "definition": definition}
                yield Append(pipeline, "pipeline", [(type_, sv, data)], "alice", self.at)

    def new_run(self, logs: float, *, external: float = 0.0) -> RunPlay:
        """A run of a random pipeline with about `logs` log chunks in all (none if 0)."""
        rng = self.rng
        pipeline, project, k = rng.choice(self.pipelines)
        outcome = rng.choice(OUTCOMES)
        if rng.random() < external:
            script = self.scripts.external[outcome]
        else:
            script = self.scripts.runs[
                (k, outcome, k - 1 if outcome == "succeeded" else rng.randrange(k))
            ]
        trigger = self._trigger(f"acme/service-{self.projects.index(project):03d}")
        runner = f"runner-{rng.randrange(40)}"
        share = logs / max(1, sum(kind == "log" for kind, _ in script))
        commands: list[tuple[str, list[Event]]] = []
        for kind, events in script:
            if kind == "log":
                commands += self._logs(events[0], round(share * rng.uniform(0.5, 1.5)), runner)
                continue
            changed = []
            for type_, sv, data in events:
                if type_ == "RunRequested":
                    data = {
                        **data,
                        "project_id": project,
                        "pipeline_id": pipeline,
                        "trigger": trigger,
                    }
                    if data["external"]:
                        xid = str(rng.getrandbits(40))
                        url = f"https://github.com/{trigger['repo']}/actions/runs/{xid}"
                        data["external"] = {**data["external"], "external_id": xid, "url": url}
                elif type_ == "StepStarted":
                    data = {**data, "runner": runner}
                elif type_ == "StepSucceeded":
                    data = {**data, "metrics": {"cpu_s": round(rng.uniform(1, 600), 1)}}
                elif type_ == "StepFailed":
                    data = {**data, "exit_code": rng.choice((1, 2, 137))}
                elif type_ == "RunCancelRequested" and kind == "cancel":
                    data = {**data, "actor": trigger["actor"]}
                changed.append((type_, sv, data))
            actor = trigger["actor"] if kind in ("trigger", "cancel") else runner
            commands.append((actor, changed))
        return RunPlay(str(uuid.uuid4()), commands)

    def play(self, n_runs: int, *, logs: float, external: float = 0.0, concurrent: int = 48,
             gap_s: float = 2.0) -> Iterator[Append]:  # fmt: skip
        """`n_runs` runs, `concurrent` at a time, each command `gap_s` apart on average."""
        live: list[RunPlay] = []
        made = 0
        while made < n_runs or live:
            while len(live) < concurrent and made < n_runs:
                live.append(self.new_run(logs, external=external))
                made += 1
            i = self.rng.randrange(len(live))
            self.at += timedelta(seconds=self.rng.expovariate(1 / gap_s))
            yield live[i].next(self.at)
            if live[i].done:
                live[i] = live[-1]
                live.pop()

    def _logs(self, template: Event, n: int, runner: str) -> list[tuple[str, list[Event]]]:
        """`n` chunks of a step's log, appended 1 to 4 at a time as a runner sends them."""
        type_, sv, data = template
        out, seq = [], 1
        while seq <= n:
            size = min(n - seq + 1, self.rng.randint(1, 4))
            chunks = [
                (type_, sv, {**data, "seq": s, "text": self.rng.choice(self.texts)})
                for s in range(seq, seq + size)
            ]
            out.append((runner, chunks))
            seq += size
        return out

    def _trigger(self, repo: str) -> dict[str, Any]:
        rng, sha = self.rng, f"{self.rng.getrandbits(160):040x}"
        kind = rng.choice(("webhook",) * 6 + ("api", "api", "manual", "schedule"))
        branch = rng.choice(BRANCHES) if rng.random() < 0.8 else f"feature/fl-{rng.randrange(999)}"
        pr = rng.randrange(1, 4000) if kind == "webhook" and rng.random() < 0.3 else None
        ref = f"refs/pull/{pr}/merge" if pr else f"refs/heads/{branch}"
        webhook = kind == "webhook"
        return {
            "actor": rng.choice(ACTORS) if kind != "schedule" else "scheduler",
            "delivery_id": str(uuid.uuid4()) if webhook else None,
            "event": ("pull_request" if pr else "push") if webhook else None,
            "kind": kind,
            "pull_request": pr,
            "ref": ref if kind != "api" or rng.random() < 0.5 else None,
            "repo": repo,
            "sha": sha,
        }

    def _text(self) -> str:
        lines = [
            " ".join(self.rng.choice(WORDS) for _ in range(self.rng.randint(4, 12)))
            for _ in range(self.rng.randint(1, 5))
        ]
        return "\n".join(f"[{self.rng.randrange(10**6):06d}] {line}" for line in lines) + "\n"


def log_share(scripts: Scripts, events: int, runs: int) -> float:
    """Log chunks per run so that `runs` runs make about `events` events in all."""
    probe = History(scripts, start=datetime.now(UTC), projects=3, seed=1)
    list(probe.catalog())
    fixed = sum(len(e) for _ in range(400) for _, e in probe.new_run(0).commands) / 400
    return max(0.0, events / runs - fixed)


async def copy_events(
    conn: asyncpg.Connection, appends: Iterable[Append], batch: int = 20000
) -> int:
    """COPY `appends` after the head (into streams no one else writes); returns the count."""
    position = start = await conn.fetchval("SELECT coalesce(max(position), 0) FROM events")
    heads: dict[str, tuple[int, bytes]] = {}
    rows: list[tuple[Any, ...]] = []
    for n, a in enumerate(appends):
        meta = encode_metadata(EventMetadata(correlation_id=f"seed-{n}", actor=a.actor))
        version, prev = heads.get(a.stream_id, (0, GENESIS_HASH))
        for type_, schema_version, data in a.events:
            position, version, raw, event_id = (
                position + 1,
                version + 1,
                _encode(data),
                uuid.uuid4(),
            )
            canonical = canonical_bytes(
                event_id=event_id, stream_id=a.stream_id, stream_type=a.stream_type,
                version=version, type=type_, schema_version=schema_version, recorded_at=a.at,
                data=raw, metadata=meta,
            )  # fmt: skip
            prev = chain_hash(prev, canonical)
            rows.append((position, event_id, a.stream_id, a.stream_type, version, type_,
                         schema_version, a.at, raw.decode(), meta.decode(), prev))  # fmt: skip
        heads[a.stream_id] = (version, prev)
        if len(rows) >= batch:
            await conn.copy_records_to_table("events", records=rows, columns=COLUMNS)
            rows = []
    if rows:
        await conn.copy_records_to_table("events", records=rows, columns=COLUMNS)
    return position - start


async def check_sample(services: Services, conn: asyncpg.Connection, history: History) -> None:
    """Seeded streams load as aggregates (the registry validates every event's data)."""
    repository = services.repository
    for project in history.projects[:3]:
        await repository.get(Project, UUID(project))
    for pipeline, _, _ in history.pipelines[:5]:
        await repository.get(Pipeline, UUID(pipeline))
    rows = await conn.fetch(
        "SELECT DISTINCT ON (stream_id) stream_id FROM events WHERE stream_type = 'run' "
        "AND position > (SELECT max(position) - 20000 FROM events) LIMIT 50"
    )
    for row in rows:
        await repository.get(Run, UUID(row["stream_id"]))
    prev = GENESIS_HASH  # and one stream's hashes are what an auditor recomputes
    for e in await services.store.read_stream(rows[0]["stream_id"]):
        canonical = canonical_bytes(
            event_id=e.event_id, stream_id=e.stream_id, stream_type=e.stream_type,
            version=e.version, type=e.type, schema_version=e.schema_version,
            recorded_at=e.recorded_at, data=_encode(e.data), metadata=encode_metadata(e.metadata),
        )  # fmt: skip
        prev = chain_hash(prev, canonical)
        assert prev.hex() == e.hash, f"hash chain broken at {e.stream_id} v{e.version}"


async def append_live(
    store: EventStore, history: History, *, rate: float, seconds: float, logs: float,
    warmup: float = 2.0, concurrent: int = 200,
) -> tuple[list[tuple[int, float]], list[float], float]:  # fmt: skip
    """Appends about `rate` events/s through the store for `warmup` + `seconds`: each command's
    events one append, `concurrent` runs under way, a new run replacing each that ends.

    Returns, for the appends begun after the warm-up, (last position, commit time) in position
    order (`time.monotonic()` when the append returned: it returns once committed), their
    latencies in ms, and the events/s appended.
    """
    rng, active, busy, versions = random.Random(3), [], set(), {}
    committed: list[tuple[int, float]] = []
    latencies: list[float] = []
    tasks: set[asyncio.Task[None]] = set()
    counted = sent = 0
    start = time.monotonic()
    measure_from, deadline = start + warmup, start + warmup + seconds

    async def send(play: RunPlay) -> None:
        nonlocal counted
        a = play.next(datetime.now(UTC))
        events = [NewEvent(type=t, data=d, schema_version=v) for t, v, d in a.events]
        meta = EventMetadata(correlation_id=uuid.uuid4().hex, actor=a.actor)
        began = time.monotonic()
        version = versions.get(a.stream_id, 0)
        result = await store.append(a.stream_id, "run", events, expected_version=version,
                                    metadata=meta)  # fmt: skip
        now = time.monotonic()
        versions[a.stream_id] = result.to_version
        busy.discard(a.stream_id)
        if began >= measure_from:
            committed.append((result.last_position, now))
            latencies.append((now - began) * 1000)
            counted += len(events)

    while (now := time.monotonic()) < deadline:
        while sent < rate * (now - start) and len(busy) < concurrent:
            while len(active) < concurrent:
                active.append(history.new_run(logs))
            play = rng.choice(active)
            if play.run_id in busy:
                continue
            busy.add(play.run_id)
            sent += len(play.commands[0][1])
            if len(play.commands) == 1:
                active.remove(play)  # its last command: it ends once this is appended
            task = asyncio.create_task(send(play))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.sleep(0.002)
    await asyncio.gather(*tasks)
    return sorted(committed), latencies, counted / seconds


async def fresh_database(server: str) -> str:
    name = f"flowledger_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = urlunsplit(urlsplit(server)._replace(path=f"/{name}"))
    await migrate(url)
    return url


async def seed_query_runs(conn: asyncpg.Connection, url: str, history: History, want: int) -> int:
    """Runs (steps, no logs; a fifth external) until the runs view holds `want`, projected by
    the projector runtime itself catching up; returns how many runs the view holds."""
    extra = max(0, want - await conn.fetchval("SELECT count(*) FROM rm_runs.runs"))
    started = time.perf_counter()
    seeded = await copy_events(conn, history.play(extra, logs=0, external=0.2))
    seed_s = time.perf_counter() - started
    await conn.execute("VACUUM ANALYZE events")
    started, stop = time.perf_counter(), asyncio.Event()  # the runtime's own catch-up
    task = asyncio.create_task(Projector(url, [by_name("runs")], batch_size=5000).run(stop))
    top, at = (
        await head(conn),
        "SELECT position, state FROM projection_checkpoints WHERE name = 'runs'",
    )
    while (row := await conn.fetchrow(at))["position"] < top and not task.done():
        if row["state"] == "failed":
            raise SystemExit("the runs projection failed: see the log above")
        await asyncio.sleep(0.1)
    stop.set()
    await task
    catch_s = time.perf_counter() - started
    await conn.execute("VACUUM ANALYZE rm_runs.runs")  # as autovacuum would have by now
    total = await conn.fetchval("SELECT count(*) FROM rm_runs.runs")
    print(
        f"query seed: {extra:,} more runs, {seeded:,} events by COPY in {seed_s:.1f} s; the "
        f"projector runtime (runs only, batches of 5,000) caught up in {catch_s:.1f} s "
        f"({seeded / catch_s:,.0f} events/s); {total:,} runs in the view"
    )
    return total
