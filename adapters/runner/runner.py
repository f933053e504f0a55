"""The runner process: registers, heartbeats, pulls jobs for its labels while it has free slots,
runs each in its own task, and on stop lets running steps finish (bounded) and deregisters.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import uuid
from uuid import UUID

import msgspec
import nats
from nats.aio.client import Client as Nats
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from adapters.runner.api import ApiError, ApiUnavailable, Refused, RunnerApi, Stale
from adapters.runner.attempt import mirrors_in
from adapters.runner.config import RunnerConfig
from adapters.runner.execution import Execution
from adapters.runner.files.workspaces import Janitor, RunFolders
from adapters.runner.mirror_pruning import prune_forever
from adapters.runner.outage import Outage, ServerGone
from adapters.runner.slots import Slots, pulls_per_label
from adapters.runner.watch import StopSignals
from adapters.streaming.jobs import Job, consumer_name, decode_job, job_subject
from adapters.streaming.nats import NatsConnection

log = logging.getLogger(__name__)

REGISTER_RETRY_S = 120.0
MAX_ACK_PENDING = 10_000
STOP_REPORT_S = 10.0
"""On stop: how long, past the shutdown grace, reports may keep retrying."""


class Runner:
    def __init__(self, config: RunnerConfig) -> None:
        self.config = config
        self.runner_id: UUID | None = None
        self.instance = uuid.uuid4().hex[:12]
        """This process: idempotency keys carry it, so a restarted runner is not its own twin."""
        self._executions: dict[UUID, Execution] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = Slots(config.concurrency)
        self.registered = asyncio.Event()
        self.outage = Outage(config.api_url, config.give_up_after_s)
        self._gone: ServerGone | None = None

    @property
    def running(self) -> list[Execution]:
        return list(self._executions.values())

    async def run(self, stop: asyncio.Event) -> None:
        config = self.config
        async with RunnerApi(config.api_url, config.token) as api:
            link = NatsConnection(config.nats_url, name=f"flowledger-runner {config.name}")
            try:
                if not await link.until_connected(stop):
                    return
                self.runner_id = await self._register(api, REGISTER_RETRY_S)
                log.info("runner %s (%s) registered: labels %s, concurrency %d",
                         config.name, self.runner_id, ",".join(config.labels),
                         config.concurrency)  # fmt: skip
                self.registered.set()
                await self._serve(api, link.client, stop)
            finally:
                # Acks and reports are sent already: flush and close. (A drain would wait out
                # its timeout on the pull subscriptions' inboxes.)
                await link.close(drain=False)
        if self._gone is not None:
            raise self._gone

    async def _serve(self, api: RunnerApi, nc: Nats, stop: asyncio.Event) -> None:
        js = nc.jetstream()
        heartbeat = asyncio.create_task(self._heartbeat(api, stop), name="runner-heartbeat")
        janitor = Janitor(RunFolders(self.config.work_dir), nc, self.config.events_prefix,
                          self.config.workspace_keep_failed_s)  # fmt: skip
        sweeping = asyncio.create_task(janitor.sweep_forever(stop), name="runner-janitor")
        pruning = asyncio.create_task(self._prune_mirrors(stop), name="runner-mirror-pruning")
        signals = StopSignals(nc, self.config.events_prefix)
        try:
            await janitor.__aenter__()
            # Before the first pull: a job's step is never claimed unwatched.
            await signals.__aenter__()
            per_label = pulls_per_label(self.config.concurrency, len(self.config.labels))
            pullers = [
                asyncio.create_task(self._pull(sub, api, nc, signals, stop), name=f"pull-{label}")
                for label in self.config.labels
                for _ in range(per_label)
                if (sub := await self._subscribe(js, label, stop)) is not None
            ]
            await stop.wait()
            # Reports still get through while the API lives; a stop never hangs on a dead one.
            api.hurry(self.config.shutdown_grace_s + STOP_REPORT_S)
            self._slots.close()
            await asyncio.gather(*pullers)
            await self._let_running_finish()
        finally:
            heartbeat.cancel()
            sweeping.cancel()
            pruning.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pruning
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            with contextlib.suppress(asyncio.CancelledError):
                await sweeping
            await signals.__aexit__()
            await janitor.__aexit__()
            await self._deregister(api)

    async def _prune_mirrors(self, stop: asyncio.Event) -> None:
        config = self.config
        await prune_forever(
            mirrors_in(config.work_dir), max_age_s=config.mirror_max_age_s,
            max_bytes=config.mirror_max_bytes, every_s=config.mirror_prune_every_s, stop=stop,
        )  # fmt: skip

    async def _subscribe(
        self, js: JetStreamContext, label: str, stop: asyncio.Event
    ) -> JetStreamContext.PullSubscription | None:
        """The shared durable pull consumer of `label`, once the dispatcher's stream exists."""
        config = ConsumerConfig(
            durable_name=consumer_name(label),
            filter_subject=job_subject(label),
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.config.ack_wait_s,
            max_ack_pending=MAX_ACK_PENDING,
        )
        waited = False
        while not stop.is_set():
            try:
                return await js.pull_subscribe(
                    job_subject(label),
                    durable=consumer_name(label),
                    stream=self.config.jobs_stream,
                    config=config,
                )
            except NotFoundError:
                if not waited:
                    log.warning("waiting for the jobs stream %s (is a dispatcher running?)",
                                self.config.jobs_stream)  # fmt: skip
                    waited = True
            except Exception as error:  # NATS out of reach: the connection reconnects by itself
                log.warning("subscribing to %s jobs failed: %s; retrying", label, error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
        return None

    async def _pull(
        self,
        sub: JetStreamContext.PullSubscription,
        api: RunnerApi,
        nc: Nats,
        signals: StopSignals,
        stop: asyncio.Event,
    ) -> None:
        """One pull per free slot, so a job never waits for a batch to fill.

        (nats-py's fetch of a batch, once its first job arrived, waits for the rest of the
        batch until its timeout: a ready job would be held back that long.) Each subscription
        has several of these loops (`pulls_per_label`), each with its own inbox.
        """
        while await self._slots.take():
            try:
                msgs = await sub.fetch(1, timeout=self.config.fetch_wait_s)
            except (NatsTimeout, TimeoutError):
                msgs = []
            except Exception as exc:  # NATS reconnecting: pull again shortly
                self._unreachable("pulling jobs", exc, stop)
                msgs = []
                await asyncio.sleep(0.5)
            if not msgs:
                self._slots.give()
            elif stop.is_set():
                # Another runner may take it at once; if NATS is gone, it comes back after
                # its ack wait instead.
                with contextlib.suppress(Exception):
                    await msgs[0].nak()
                self._slots.give()
            else:
                await self._start(msgs[0], api, nc, signals)

    async def _start(
        self, msg: nats.aio.msg.Msg, api: RunnerApi, nc: Nats, signals: StopSignals
    ) -> None:
        try:
            job = decode_job(msg.data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.error("not a job on %s, discarded: %s", msg.subject, exc)
            await msg.term()
            self._slots.give()
            return
        execution = Execution(
            job, msg, api=api, nc=nc, signals=signals, config=self.config,
            runner_id=str(self.runner_id), instance=self.instance,
        )  # fmt: skip
        self._executions[job.job_id] = execution
        task = asyncio.create_task(self._execute(job, execution), name=f"job-{job.job_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _execute(self, job: Job, execution: Execution) -> None:
        try:
            await execution.run()
        except Exception:
            log.exception("job %s of run %s failed in the runner", job.job_id, job.run_id)
        finally:
            self._executions.pop(job.job_id, None)
            self._slots.give()

    async def _let_running_finish(self) -> None:
        if not self._tasks:
            return
        log.info("stopping: %d step(s) still running, waiting up to %gs",
                 len(self._tasks), self.config.shutdown_grace_s)  # fmt: skip
        _, pending = await asyncio.wait(set(self._tasks), timeout=self.config.shutdown_grace_s)
        if pending:
            for execution in self.running:
                execution.abort("the runner is stopping")
            await asyncio.wait(pending)

    def _unreachable(self, what: str, exc: BaseException, stop: asyncio.Event) -> None:
        try:
            self.outage.failed(what, exc)
        except ServerGone as gone:
            self._gone = gone
            stop.set()

    async def _heartbeat(self, api: RunnerApi, stop: asyncio.Event) -> None:
        while True:
            await asyncio.sleep(self.config.heartbeat_s)
            assert self.runner_id is not None
            try:
                await api.heartbeat(self.runner_id, [e.ref for e in self.running])
                self.outage.recovered()
            except ApiUnavailable as exc:
                self._unreachable("heartbeat", exc, stop)
            except (Stale, Refused) as exc:
                # Taken for lost (or forgotten): its steps were failed; it may take new ones.
                if exc.code == "runner_not_active" or exc.status == 404:
                    log.warning("heartbeat refused (%s): registering again", exc)
                    await self._register_again(api)
                else:
                    log.warning("heartbeat refused: %s", exc)
            except ApiError as exc:
                log.warning("heartbeat failed: %s", exc)

    async def _register(self, api: RunnerApi, retry_for_s: float) -> UUID:
        config = self.config
        return await api.register(
            name=config.name,
            labels=config.labels,
            host=socket.gethostname(),
            version=config.version,
            concurrency=config.concurrency,
            retry_for_s=retry_for_s,
        )

    async def _register_again(self, api: RunnerApi) -> None:
        try:
            self.runner_id = await self._register(api, retry_for_s=0)
        except (ApiError, ApiUnavailable) as exc:
            log.warning("registering again failed: %s", exc)

    async def _deregister(self, api: RunnerApi) -> None:
        if self.runner_id is None:
            return
        if self.outage.ongoing:
            return  # nobody to tell: the server marks this runner lost on its own
        try:
            await api.deregister(self.runner_id, retry_for_s=2.0)
        except ApiUnavailable as exc:
            # `up`'s API stops beside its runner; elsewhere the server marks it lost anyway.
            if not self.config.quiet_stop:
                log.info("not deregistered, the API is gone (%s): it will mark it lost", exc)
        except ApiError as exc:
            log.warning("deregistering failed: %s", exc)
