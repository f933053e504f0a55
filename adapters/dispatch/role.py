"""The `dispatcher` role: the dispatch process manager, the start-up republish, and the reaper.

On start it publishes again every job recorded and not yet reported running: a dispatcher
that died between recording a job and publishing it loses nothing. JetStream drops a copy
whose `Nats-Msg-Id` it saw within FLOWLEDGER_DISPATCH_DUPLICATE_WINDOW_S; after a longer
outage a second copy may reach the queue, and the runner taking it is refused (409) when it
reports the attempt running, so it is still run once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import asyncpg
from nats.aio.client import Client as NatsClient

from adapters.dispatch.jobs import JobPublisher
from adapters.dispatch.process import NAME, DispatchProcess, publish_row, waiting_jobs
from adapters.dispatch.reaper import Reaper
from adapters.platform.event_loop import run_role
from adapters.store.heartbeats import PgHeartbeats
from adapters.streaming.jobs import ensure_jobs_stream
from projections.projection import live_schema

if TYPE_CHECKING:
    from adapters.platform.embedded import ServerUrls
    from adapters.platform.runtime import Role
    from adapters.platform.settings import Settings

log = logging.getLogger(__name__)

REAP_EVERY_MAX_S = 5.0


async def serve(settings: Settings, database_url: str, nats_url: str, stop: asyncio.Event) -> None:
    """Dispatch and reap until `stop` is set (several may run: one dispatches at a time)."""
    from adapters.platform.services import open_services
    from projections.runtime import Projector

    async with contextlib.AsyncExitStack() as stack:
        services = await stack.enter_async_context(open_services(settings, database_url))
        nc = NatsClient()
        stack.push_async_callback(_close_nats, nc)
        if not await _connect(nc, nats_url, stop):
            return
        js = nc.jetstream()
        await ensure_jobs_stream(js, settings)
        publisher = JobPublisher(services.repository, js, settings.dispatch_stream)
        await _republish_until_done(services.store.pool, publisher, stop)
        process = DispatchProcess(services.bus.dispatch, publisher)
        reaper = Reaper(
            services.bus.dispatch,
            PgHeartbeats(services.store.pool),
            lost_after_s=settings.runner_lost_after_s,
            every_s=min(REAP_EVERY_MAX_S, settings.runner_heartbeat_interval_s),
        )
        async with asyncio.TaskGroup() as group:
            group.create_task(Projector(database_url, [process]).run(stop), name="dispatch")
            group.create_task(reaper.run(stop), name="reaper")


async def republish_waiting(
    pool: asyncpg.Pool, publisher: JobPublisher, *, schema: str = live_schema(NAME)
) -> int:
    """Publish again every job that waits for a runner; how many."""
    try:
        rows = await waiting_jobs(pool, schema)
    except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
        return 0  # never dispatched anything yet
    for row in rows:
        await publish_row(publisher, row)
    if rows:
        log.info("dispatcher: published %d waiting jobs again", len(rows))
    return len(rows)


async def _republish_until_done(
    pool: asyncpg.Pool, publisher: JobPublisher, stop: asyncio.Event
) -> None:
    delay = 0.5
    while not stop.is_set():
        try:
            await republish_waiting(pool, publisher)
            return
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            log.warning("dispatcher: republishing waiting jobs failed: %s; retrying", error)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        delay = min(delay * 2, 5.0)


async def _connect(nc: NatsClient, nats_url: str, stop: asyncio.Event) -> bool:
    """Connect (retrying forever, the first attempt included) unless `stop` comes first."""
    connecting = asyncio.create_task(
        nc.connect(
            [server.strip() for server in nats_url.split(",")],
            name="flowledger-dispatcher",
            connect_timeout=2,
            reconnect_time_wait=0.5,
            max_reconnect_attempts=-1,
        )
    )
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({connecting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if not connecting.done():
        connecting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await connecting
        return False
    connecting.result()
    return True


async def _close_nats(nc: NatsClient) -> None:
    with contextlib.suppress(Exception):
        await nc.drain()


def dispatcher_role(settings: Settings, urls: ServerUrls) -> Role:
    from adapters.platform.runtime import Role

    return Role("dispatcher", lambda stop: serve(settings, urls.database_url, urls.nats_url, stop))


def dispatcher(settings: Settings, *, out: Callable[[str], None]) -> None:
    """The `flowledger dispatcher` command: this role alone (migrations are `migrate`'s job)."""
    from importlib.metadata import version

    from adapters.platform.embedded import embedded_servers
    from adapters.platform.runtime import redact, run_roles, with_probe

    with embedded_servers(settings, log=out) as urls:
        out(f"flowledger {version('flowledger')} dispatcher on {redact(urls.database_url)}")
        run_role(run_roles(with_probe(settings, [dispatcher_role(settings, urls)])))
