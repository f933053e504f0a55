"""Playing for bench/projection.py's seeding: thousands of runs from the recorded scripts,
interleaved as concurrent runs are, with new ids, times, triggers, runners, metrics and log text
(values change, never a type name or a shape)."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bench._seed_scripts import Event, Scripts

OUTCOMES = ["succeeded"] * 7 + ["failed"] * 2 + ["cancelled"]  # 70 / 20 / 10 %
BRANCHES = ["main"] * 8 + ["develop"] * 2 + ["release/2.4", "release/2.5"]
ACTORS = ("alice", "bob", "carol", "dave", "erin", "ci-bot", "release-bot")
WORDS = ("compiling", "linking", "fetching", "running", "passed", "cached", "module", "test")


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
