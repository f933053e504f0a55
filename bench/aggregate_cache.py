"""Loading an aggregate for a command: the whole stream (baseline) against the cache's tail read.

    uv run python bench/aggregate_cache.py [--loads 3000] [--rounds 3]

One run of a 3-step pipeline walked through each step (running, succeeded: 7 events in its
stream) and its pipeline, written through the command bus into a fresh migrated database. Each
"load" is what a step report does first: load the run and its pipeline. (b), the baseline, is
`Repository` (reads and applies every event of both streams); (a) is `CachingRepository` (reads
only the events after its kept versions, here none, and applies nothing). Printed: loads/s and
CPU per load of this process (asyncpg decoding included; PostgreSQL's own CPU is not), rounds
alternating, and a/b. Uses FLOWLEDGER_DATABASE_URL when set, else the embedded servers.
"""

# ruff: noqa: E402  (the imports after the sys.path fix below)
from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
    sys.path.insert(0, str(ROOT))

from adapters.store import EventStore
from adapters.store.aggregate_cache import CachingRepository
from adapters.store.repository import Repository
from commands.context import CommandContext, Principal
from commands.pipelines import CreatePipeline
from commands.projects import CreateProject
from commands.run_reports import ReportStepStatus
from commands.runs import TriggerRun
from domain.pipeline import Pipeline
from domain.pipeline_definition import PipelineDefinition
from domain.registry import default_registry
from domain.run import Run
from domain.step_spec import StepSpec

STEPS = ("build", "test", "deploy")
ADMIN = Principal(id="bench", name="bench", project_id=None, scopes=frozenset({"admin"}))


async def seed(url: str) -> tuple[UUID, UUID]:
    from adapters.bootstrap import open_services
    from adapters.platform.settings import load_settings

    settings = load_settings({}, cwd=ROOT)
    async with open_services(settings, url) as services:

        async def send(command: object) -> str:
            context = CommandContext(principal=ADMIN, at=datetime.now(UTC), correlation_id="b")
            return (await services.bus.dispatch(command, context)).id

        project = UUID(await send(CreateProject(name="bench", slug="bench")))
        steps = tuple(
            StepSpec(name=s, run=f"make {s}", needs=STEPS[:i][-1:]) for i, s in enumerate(STEPS)
        )
        definition = PipelineDefinition(name="ci", steps=steps)
        pipeline = UUID(await send(CreatePipeline(project_id=project, definition=definition)))
        run = UUID(await send(TriggerRun(pipeline_id=pipeline)))
        for step in STEPS:
            for status in ("running", "succeeded"):
                await send(ReportStepStatus(run_id=run, step=step, status=status))
        return run, pipeline


async def bench(url: str, args: argparse.Namespace) -> None:
    run, pipeline = await seed(url)
    registry = default_registry()
    store = EventStore(url, stream_types=registry.stream_types())
    await store.open()
    variants = {"cached": CachingRepository(store, registry), "whole": Repository(store, registry)}
    cpu = {v: 0.0 for v in variants}
    wall = {v: 0.0 for v in variants}
    events = len(await store.read_stream(str(run))) + len(await store.read_stream(str(pipeline)))
    try:
        for round_ in range(args.rounds):
            for name in list(variants)[:: -1 if round_ % 2 else 1]:
                repository = variants[name]
                t0, c0 = time.perf_counter(), time.process_time()
                for _ in range(args.loads):
                    with repository.command_scope():
                        await repository.get(Run, run)
                        await repository.get(Pipeline, pipeline)
                wall[name] += time.perf_counter() - t0
                cpu[name] += time.process_time() - c0
    finally:
        await store.close()
    n = args.loads * args.rounds
    print(f"{events} events in the two streams; {n:,} loads of both per variant")
    for letter, name, label in (("(a)", "cached", "cache, tail read"), ("(b)", "whole", "whole")):
        print(
            f"{letter} {label:<18}{n / wall[name]:>8,.0f} loads/s   "
            f"{cpu[name] / n * 1e6:6.1f} us CPU/load (this process)"
        )
    print(
        f"a/b = {wall['whole'] / wall['cached']:.2f} (loads/s); "
        f"CPU saved per command: {(cpu['whole'] - cpu['cached']) / n * 1e6:.0f} us"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--loads", type=int, default=3000, help="per variant and round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from bench._databases import fresh_database
    from bench._servers import bench_servers

    with bench_servers() as (_, urls, _env):

        async def go() -> None:
            await bench(await fresh_database(urls.database_url, crud=False), args)

        asyncio.run(go())


if __name__ == "__main__":
    main()
