"""A whole flowledger for runner tests: the real API over HTTP, projector, relay and dispatcher.

Everything runs in the test's event loop against the session's PostgreSQL and NATS. The relay
publishes to a stream and prefix of its own and the dispatcher keeps its own checkpoint, both
starting at the head, so other tests' events are not theirs to handle. Each test pipeline uses
a label of its own, so its jobs reach only the runners that test starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from nats.aio.client import Client as NatsClient

from adapters.bootstrap import api_app, catalog, open_services
from adapters.dispatch.jobs import JobPublisher
from adapters.dispatch.process import DispatchProcess
from adapters.dispatch.queue_watch import QueueReaper, QueueWatch
from adapters.dispatch.reaper import Reaper
from adapters.platform.admin_key import create_key
from adapters.platform.services import Services
from adapters.platform.settings import Settings
from adapters.platform.supervisor import listen, serve_http
from adapters.runner import Runner, RunnerConfig
from adapters.store.heartbeats import PgHeartbeats
from adapters.streaming.jobs import ensure_jobs_stream
from adapters.streaming.relay import Relay, RelayConfig
from projections.runtime import Projector
from tests.databases import start_projection_at_head
from tests.helpers import unique_id
from tests.integration.relay.relaying import start_at_head, unique_config

WAIT_S = 60.0
"""A bound on waits, against hangs: far above what any step here takes."""
FINISHED = ("succeeded", "failed", "cancelled", "timed_out")


@dataclass
class Stack:
    settings: Settings
    services: Services
    pool: asyncpg.Pool
    api_url: str
    relay: RelayConfig
    admin: dict[str, str]
    runner_token: str
    http: httpx.AsyncClient

    def runner_config(self, label: str, **overrides: Any) -> RunnerConfig:
        fields: dict[str, Any] = {
            "name": unique_id("runner-")[:40],
            "labels": (label,),
            "concurrency": 2,
            "api_url": self.api_url,
            "token": self.runner_token,
            "nats_url": self.settings.nats_url,
            "jobs_stream": self.settings.dispatch_stream,
            "events_prefix": self.relay.prefix,
            "heartbeat_s": float(self.settings.runner_heartbeat_interval_s),
            "kill_grace_s": 1.0,
            "shutdown_grace_s": 10.0,
            "fetch_wait_s": 0.5,
        }
        return RunnerConfig(**(fields | overrides))

    async def pipeline(
        self, steps: Sequence[dict[str, Any]], *, parameters: Sequence[dict[str, Any]] = ()
    ) -> str:
        """A project and a pipeline with these steps; the pipeline's id."""
        answer = await self.http.post(
            "/api/v1/projects",
            json={"name": "runner test", "slug": unique_id("r-")[:40]},
            headers=self.admin,
        )
        assert answer.status_code == 201, answer.text
        body = {
            "project_id": answer.json()["id"],
            "name": unique_id("p-")[:40],
            "steps": list(steps),
            "parameters": list(parameters),
        }
        answer = await self.http.post("/api/v1/pipelines", json=body, headers=self.admin)
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    async def trigger(self, pipeline_id: str, **parameters: Any) -> str:
        answer = await self.http.post(
            f"/api/v1/pipelines/{pipeline_id}/runs",
            json={"parameters": parameters},
            headers=self.admin,
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    async def finished(self, run_id: str) -> str:
        """Wait for the run to end (in the event store); how it ended."""
        return await self.wait_for_event(run_id, ("RunSucceeded", "RunFailed", "RunCancelled",
                                                  "RunTimedOut"))  # fmt: skip

    async def wait_for_event(self, run_id: str, types: Iterable[str]) -> str:
        wanted = tuple(types)
        async with asyncio.timeout(WAIT_S):
            while True:
                found = await self.pool.fetchval(
                    "SELECT type FROM events WHERE stream_id = $1 AND type = ANY($2) "
                    "ORDER BY position LIMIT 1",
                    run_id,
                    list(wanted),
                )
                if found is not None:
                    return str(found)
                await asyncio.sleep(0.05)

    async def viewed(self, run_id: str, until: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The run as `GET /pipeline-runs/{id}` shows it, once the view satisfies `until`."""
        async with asyncio.timeout(WAIT_S):
            while True:
                answer = await self.http.get(f"/api/v1/pipeline-runs/{run_id}", headers=self.admin)
                if answer.status_code == 200 and until(run := answer.json()):
                    return run
                await asyncio.sleep(0.05)

    async def events(self, run_id: str) -> list[tuple[int, str, dict[str, Any]]]:
        """(position, type, data) of every event of the run, in order."""
        import json

        rows = await self.pool.fetch(
            "SELECT position, type, data FROM events WHERE stream_id = $1 ORDER BY position",
            run_id,
        )
        return [(r["position"], r["type"], json.loads(r["data"])) for r in rows]


@contextlib.asynccontextmanager
async def running_stack(settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[Stack]:
    database_url, nats_url = settings.database_url, settings.nats_url
    assert database_url and nats_url
    stop = asyncio.Event()
    sock = listen("127.0.0.1", 0)
    host, port = sock.getsockname()[:2]
    relay = unique_config()
    await start_at_head(database_url, relay)
    async with contextlib.AsyncExitStack() as stack:
        services = await stack.enter_async_context(open_services(settings, database_url))
        nc = NatsClient()
        await nc.connect(nats_url)
        stack.push_async_callback(nc.close)
        await ensure_jobs_stream(nc.jetstream(), settings)
        dispatch = DispatchProcess(
            services.bus.dispatch,
            JobPublisher(
                services.repository,
                nc.jetstream(),
                settings.dispatch_stream,
                pool=services.store.pool,
            ),
        )
        dispatch.name = unique_id("dispatch_")[:40]
        await start_projection_at_head(pool, dispatch)
        watch = QueueWatch(services.bus.dispatch)
        watch.name = unique_id("queue_watch_")[:40]
        await start_projection_at_head(pool, watch)
        queue_reaper = QueueReaper(services.bus.dispatch, pool, default_timeout_s=0, every_s=0.3)
        reaper = Reaper(
            services.bus.dispatch,
            PgHeartbeats(services.store.pool),
            lost_after_s=settings.runner_lost_after_s,
            every_s=0.5,
        )
        app = api_app(settings, database_url=database_url, nats_url=nats_url)
        tasks = [
            asyncio.create_task(serve_http(app, sock, stop, log_level="WARNING"), name="api"),
            asyncio.create_task(Projector(database_url, catalog()).run(stop), name="projector"),
            asyncio.create_task(Relay(database_url, nats_url, relay).run(stop), name="relay"),
            asyncio.create_task(
                Projector(database_url, [dispatch, watch], retry_s=0.1).run(stop),
                name="dispatcher",
            ),
            asyncio.create_task(reaper.run(stop), name="reaper"),
            asyncio.create_task(queue_reaper.run(stop), name="queue-reaper"),
        ]

        async def stop_all() -> None:
            stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks), 30)

        stack.push_async_callback(stop_all)
        now = datetime.now(UTC)
        _, admin = await create_key(services, name="admin", scopes=("admin",), project_id=None,
                                    at=now)  # fmt: skip
        _, runner = await create_key(services, name="runner", scopes=("runner",),
                                     project_id=None, at=now)  # fmt: skip
        api_url = f"http://{host}:{port}"
        http = await stack.enter_async_context(httpx.AsyncClient(base_url=api_url, timeout=30))
        await _ready(http)
        yield Stack(
            settings=settings,
            services=services,
            pool=pool,
            api_url=api_url,
            relay=relay,
            admin={"X-API-Key": admin},
            runner_token=runner,
            http=http,
        )


async def _ready(http: httpx.AsyncClient) -> None:
    async with asyncio.timeout(WAIT_S):
        while True:
            with contextlib.suppress(httpx.TransportError):
                if (await http.get("/ready")).status_code == 200:
                    return
            await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def runners(*configs: RunnerConfig) -> AsyncIterator[list[Runner]]:
    """Runners in this loop (their steps are real processes), stopped gracefully at the end."""
    stop = asyncio.Event()
    started = [Runner(config) for config in configs]
    tasks = [asyncio.create_task(r.run(stop), name=f"runner-{r.config.name}") for r in started]
    try:
        async with asyncio.timeout(WAIT_S):
            for runner, task in zip(started, tasks, strict=True):
                waiting = asyncio.create_task(runner.registered.wait())
                await asyncio.wait({waiting, task}, return_when=asyncio.FIRST_COMPLETED)
                waiting.cancel()
                if task.done():
                    task.result()  # raises what stopped it
        yield started
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), WAIT_S)


def alive(pid: int) -> bool:
    """The process exists and is not a zombie waiting for its parent."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


async def eventually(check: Callable[[], bool], within_s: float = WAIT_S) -> None:
    """Wait until `check()` holds (a bound against hangs, not a timing assertion)."""
    async with asyncio.timeout(within_s):
        while True:
            if check():
                return
            await asyncio.sleep(0.05)


def written(path: Path) -> str:
    """The file's complete lines so far ("" while it does not exist)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return ""
    return text[: text.rfind("\n") + 1]


async def wait_for_file(path: Path) -> str:
    await eventually(lambda: bool(written(path)))
    return written(path)


def kill_quietly(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)
