"""Every long-running role, built from settings: what `up` runs together and each
`flowledger ROLE` runs alone."""

from __future__ import annotations

import asyncio
import socket
from functools import partial

from adapters.bootstrap.resources import (
    Resources,
    open_personal_values,
    open_resources,
    shared_or_own,
)
from adapters.dispatch.approval_sweeper import ApprovalSweeper
from adapters.dispatch.groups import GroupProcess
from adapters.dispatch.jobs import JobPublisher
from adapters.dispatch.process import DispatchProcess
from adapters.dispatch.queue_watch import QueueReaper, QueueWatch
from adapters.dispatch.reaper import Reaper
from adapters.dispatch.role import REAP_EVERY_MAX_S, republish_until_done
from adapters.dispatch.sweeper import Sweeper
from adapters.outbound.deliverer import Deliverer, StatusHosts
from adapters.platform.embedded import ServerUrls
from adapters.platform.settings import Settings
from adapters.platform.supervisor import Role, serve_http
from adapters.runner.config import RunnerConfig
from adapters.runner.launch import local_api_url
from adapters.runner.runner import Runner
from adapters.scheduler.role import run_scheduler, scheduler_for
from adapters.secrets import vault
from adapters.store.heartbeats import PgHeartbeats
from adapters.streaming.jobs import ensure_jobs_stream
from adapters.streaming.relay import Relay, RelayConfig
from adapters.webhooks.intake import BATCH as INTAKE_BATCH
from adapters.webhooks.intake import IntakeProcess
from adapters.webhooks.secret_expiry import SecretSweeper
from projections.catalog import ALL
from projections.projection import Projection
from projections.runtime import VIEWS_LINGER_S, Projector


def catalog() -> tuple[Projection, ...]:
    """Every projection flowledger serves."""
    return tuple(ALL)


def http_role(
    settings: Settings, urls: ServerUrls, sock: socket.socket, shared: Resources | None = None
) -> Role:
    from adapters.bootstrap.apps import api_app  # only processes that serve it pay its imports

    app = api_app(settings, database_url=urls.database_url, nats_url=urls.nats_url, shared=shared)
    return Role("api", lambda stop: serve_http(app, sock, stop, log_level=settings.log_level))


def gateway_role(settings: Settings, urls: ServerUrls, sock: socket.socket) -> Role:
    from adapters.bootstrap.apps import gateway_app

    app = gateway_app(settings, database_url=urls.database_url, nats_url=urls.nats_url)
    return Role("gateway", lambda stop: serve_http(app, sock, stop, log_level=settings.log_level))


def projector_role(settings: Settings, urls: ServerUrls) -> Role:
    # Alone it opens no write side: its views keep personal values in clear (an erasure scrubs
    # them), so it needs the instance's keys itself.
    open_personal_values(settings)
    # No pool: each projection holds a connection of its own, for its ownership lock.
    # Off the run path: each view waits a moment once woken, so that a run's commits landing
    # close together cost it one transaction, not one each.
    projector = Projector(urls.database_url, catalog(), linger_s=VIEWS_LINGER_S)
    return Role("projector", projector.run)


def relay_role(settings: Settings, urls: ServerUrls, shared: Resources | None = None) -> Role:
    # No pool: its PostgreSQL connection carries its lock. Alone, its NATS connection lives
    # and dies with that lock; in `up` it publishes on the process's.
    config = RelayConfig.from_settings(settings)
    nats = shared.nats if shared is not None else None
    return Role("relay", Relay(urls.database_url, urls.nats_url, config, nats=nats).run)


def intake_role(settings: Settings, urls: ServerUrls, shared: Resources | None = None) -> Role:
    return Role("intake", partial(_intake, settings, urls, shared))


def dispatcher_role(settings: Settings, urls: ServerUrls, shared: Resources | None = None) -> Role:
    return Role("dispatcher", partial(_dispatch, settings, urls, shared))


def deliverer_role(settings: Settings, urls: ServerUrls, shared: Resources | None = None) -> Role:
    return Role("deliverer", partial(_deliver, settings, urls, shared))


def scheduler_role(settings: Settings, urls: ServerUrls, shared: Resources | None = None) -> Role:
    return Role("scheduler", partial(_schedule, settings, urls, shared))


def runner_role(settings: Settings, urls: ServerUrls, sock: socket.socket, token: str) -> Role:
    """The local runner of `up`, talking to this process's API over its socket."""
    api_url = local_api_url(*sock.getsockname()[:2])
    return Role("runner", local_runner(settings, api_url, urls.nats_url, token).run)


def local_runner(settings: Settings, api_url: str, nats_url: str, token: str) -> Runner:
    """The runner `up` starts beside its API, named `<host>-up` unless FLOWLEDGER_RUNNER_NAME."""
    name = settings.runner_name or f"{socket.gethostname()}-up"
    # `up` stops its API with everything else: running steps are stopped at once and
    # reported failed while the API may still answer, rather than outliving it.
    config = RunnerConfig.from_settings(
        settings,
        api_url=api_url,
        token=token,
        nats_url=nats_url,
        name=name,
        shutdown_grace_s=0.0,
        quiet_stop=True,
    )
    return Runner(config)


async def _intake(
    settings: Settings, urls: ServerUrls, shared: Resources | None, stop: asyncio.Event
) -> None:
    """Run the intake until `stop` is set (several may run: one owns it at a time)."""
    own = partial(open_resources, settings, "intake", urls.database_url)
    async with shared_or_own(shared, own) as resources:
        process = IntakeProcess(resources.services)
        await Projector(urls.database_url, [process], batch_size=INTAKE_BATCH).run(stop)


async def _dispatch(
    settings: Settings, urls: ServerUrls, shared: Resources | None, stop: asyncio.Event
) -> None:
    """Dispatch and reap until `stop` is set (several may run: one dispatches at a time)."""
    own = partial(open_resources, settings, "dispatcher", urls.database_url, urls.nats_url)
    async with shared_or_own(shared, own) as resources:
        nats, services = resources.nats, resources.services
        assert nats is not None, "the dispatcher publishes jobs: it needs NATS"
        if not await nats.until_connected(stop):
            return
        js = nats.jetstream()
        await ensure_jobs_stream(js, settings)
        publisher = JobPublisher(
            services.repository,
            js,
            settings.dispatch_stream,
            default_branch=settings.cache_default_branch,
            workspace_retention_days=settings.workspace_retention_days,
            pool=resources.pool,
        )
        await republish_until_done(resources.pool, publisher, stop)
        process = DispatchProcess(services.bus.dispatch, publisher)
        reaper = Reaper(
            services.bus.dispatch,
            PgHeartbeats(resources.pool),
            lost_after_s=settings.runner_lost_after_s,
            every_s=min(REAP_EVERY_MAX_S, settings.runner_heartbeat_interval_s),
        )
        queue_reaper = QueueReaper(
            services.bus.dispatch,
            resources.pool,
            default_timeout_s=settings.queue_timeout_s,
            every_s=min(REAP_EVERY_MAX_S, settings.runner_heartbeat_interval_s),
        )
        watch = QueueWatch(services.bus.dispatch)
        async with asyncio.TaskGroup() as group:
            group.create_task(
                Projector(urls.database_url, [process, watch]).run(stop), name="dispatch"
            )
            groups = GroupProcess(services.bus.dispatch)
            group.create_task(Projector(urls.database_url, [groups]).run(stop), name="groups")
            group.create_task(reaper.run(stop), name="reaper")
            group.create_task(queue_reaper.run(stop), name="queue-reaper")
            sweeper = ApprovalSweeper(services.bus.dispatch, resources.pool)
            group.create_task(sweeper.run(stop), name="approval-sweeper")
            artifact_sweeper = Sweeper(
                services.bus.dispatch,
                resources.pool,
                js,
                cache_max_bytes=settings.cache_max_bytes,
                every_s=settings.artifact_sweep_interval_s,
            )
            group.create_task(artifact_sweeper.run(stop), name="artifact-sweeper")
            secret_sweeper = SecretSweeper(services.bus.dispatch, resources.pool)
            group.create_task(secret_sweeper.run(stop), name="webhook-secret-sweeper")


async def _schedule(
    settings: Settings, urls: ServerUrls, shared: Resources | None, stop: asyncio.Event
) -> None:
    """Fire due schedule slots until `stop` is set (several may run: each slot fires once)."""
    own = partial(open_resources, settings, "scheduler", urls.database_url)
    async with shared_or_own(shared, own) as resources:
        scheduler = scheduler_for(
            resources.services.bus.dispatch,
            resources.pool,
            grace_s=settings.scheduler_grace_s,
            batch_size=settings.scheduler_batch_size,
        )
        await run_scheduler(scheduler, stop, tick_ms=settings.scheduler_tick_ms)


async def _deliver(
    settings: Settings, urls: ServerUrls, shared: Resources | None, stop: asyncio.Event
) -> None:
    """Deliver outbound webhooks until `stop` is set (several may run: one at a time works)."""
    own = partial(open_resources, settings, "deliverer", urls.database_url, urls.nats_url)
    async with shared_or_own(shared, own) as resources:
        nats, services = resources.nats, resources.services
        assert nats is not None, "the deliverer reads the event stream: it needs NATS"
        statuses = StatusHosts(
            reveal=vault.reveal,
            github_api=settings.github_api_url,
            gitlab_api=settings.gitlab_api_url,
            dashboard_url=settings.public_url
            or settings.api_url
            or f"http://{settings.host}:{settings.port}",
        )
        deliverer = Deliverer(
            settings,
            resources.pool,
            nats,
            services.repository,
            services.box,
            services.bus.dispatch,
            store=services.store,
            statuses=statuses,
        )
        await deliverer.run(stop)
