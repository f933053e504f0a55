"""Reports each run's progress to the commit it built: a run triggered by a GitHub or GitLab
webhook gets a commit status at queued, running and its outcome, with a link to its page.

Driven by a durable JetStream consumer (`commit-status`) on the run events that change what
is reported, so a restart misses none. Reports of one run go out in order; each request is
recorded as an event (`CommitStatusAttempted`, with the host's HTTP status), failures are
retried with back-off, and nothing waits on them: the run goes on regardless. A check run's
creation is recorded before it is asked for (`CommitStatusCheckRunRequested`, see check_runs.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import msgspec
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from adapters.outbound.backoff import Backoff
from adapters.statuses import hosts
from adapters.statuses.check_runs import CheckRuns
from adapters.statuses.commits import Commit, find_commit
from adapters.statuses.github_app import BAD_KEY, InstallationTokens, installation
from adapters.statuses.recorded import Recorded
from adapters.statuses.steps import STEP_STATES, step_commit
from adapters.store.repository import Repository
from adapters.store.store import EventStore
from adapters.streaming.relay.subjects import filter_subject
from commands.commit_statuses import RecordCheckRunRequest, RecordCommitStatusAttempt
from commands.context import CommandContext
from commands.subscriptions import DELIVERER
from domain.commit_status import behind

log = logging.getLogger(__name__)

CONSUMER = "commit-status"
RUN_ENDS = frozenset({"RunSucceeded", "RunFailed", "RunTimedOut", "RunCancelled"})
STATES = {
    "RunRequested": "queued",
    "RunStarted": "running",
    "RunSucceeded": "success",
    "RunFailed": "failure",
    "RunTimedOut": "failure",
    "RunCancelled": "cancelled",
}
RETRYABLE = {408, 425, 429}
"""Besides 5xx and no answer: what a host answers when trying again later may succeed."""
Reveal = Callable[[asyncpg.Pool, str, str], Awaitable[Any]]


class _Event(msgspec.Struct, frozen=True):
    stream_id: str
    type: str
    data: dict[str, Any] = {}


_event = msgspec.json.Decoder(_Event)


class Reporter:
    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        store: EventStore,
        repository: Repository,
        client: httpx.AsyncClient,
        dispatch: Callable[..., Awaitable[object]],
        reveal: Reveal,
        backoff: Backoff,
        api_urls: dict[str, str],
        dashboard_url: str,
        stream: str,
        prefix: str,
    ) -> None:
        self.pool, self.store, self.client = pool, store, client
        self.dispatch, self.reveal, self.backoff = dispatch, reveal, backoff
        self.api_urls, self.dashboard_url = api_urls, dashboard_url.rstrip("/")
        self.stream, self.prefix = stream, prefix
        self.commits: dict[UUID, Commit | None] = {}
        self.chains: dict[UUID, asyncio.Task[None]] = {}
        self.recorded = Recorded(repository)
        self.checks = CheckRuns(client, InstallationTokens(client), self.recorded.check_run)
        """GitHub check runs, for projects that hold a GitHub App's secrets."""

    async def run(self, js: JetStreamContext, stop: asyncio.Event) -> None:
        subjects = [
            filter_subject(self.prefix, stream_type="run", event_type=t)
            for t in (*STATES, *STEP_STATES)
        ]
        config = ConsumerConfig(
            durable_name=CONSUMER,
            deliver_policy=DeliverPolicy.NEW,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=60,
            max_ack_pending=1000,
            filter_subjects=subjects,
        )
        try:  # create, or bring one made by an older version to these subjects
            await js.add_consumer(self.stream, config=config)
        except Exception as error:
            log.warning("commit statuses: consumer %s not updated: %s", CONSUMER, error)
        psub = await js.pull_subscribe("", durable=CONSUMER, stream=self.stream, config=config)
        try:
            while not stop.is_set():
                try:
                    msgs = await psub.fetch(100, timeout=1.0)
                except TimeoutError:  # nats-py raises either kind when nothing came
                    continue
                for msg in msgs:
                    await self._take(msg, stop)
        finally:
            for task in list(self.chains.values()):
                task.cancel()
            await asyncio.gather(*self.chains.values(), return_exceptions=True)
            with contextlib.suppress(Exception):
                await psub.unsubscribe()

    async def _take(self, msg: Msg, stop: asyncio.Event) -> None:
        event = _event.decode(msg.data)
        run_id = UUID(event.stream_id)
        commit = await self._commit(run_id)
        if commit is not None and event.type in STEP_STATES:
            commit = step_commit(commit, event.data)
        if commit is None:
            await msg.ack()
            return
        state = STEP_STATES.get(event.type) or STATES[event.type]
        before = self.chains.get(run_id)  # a run's reports, its steps' too, go out in order
        task = asyncio.create_task(self._report(before, commit, state, msg, stop))
        self.chains[run_id] = task
        if event.type in RUN_ENDS:
            task.add_done_callback(lambda _t: self._forget(run_id, task))

    def _forget(self, run_id: UUID, task: asyncio.Task[None]) -> None:
        if self.chains.get(run_id) is task:
            self.chains.pop(run_id)
            self.commits.pop(run_id, None)
            self.checks.forget(run_id)

    async def _commit(self, run_id: UUID) -> Commit | None:
        if run_id not in self.commits:
            self.commits[run_id] = await find_commit(self.pool, self.store, run_id)
        return self.commits[run_id]

    async def _report(
        self,
        before: asyncio.Task[None] | None,
        commit: Commit,
        state: str,
        msg: Msg,
        stop: asyncio.Event,
    ) -> None:
        if before is not None:
            with contextlib.suppress(Exception):
                await before
        try:
            await self._attempts(commit, state, stop, msg)
        except Exception:  # a report must never take the reporter down with it
            log.exception("commit status of run %s: report failed", commit.run_id)
        with contextlib.suppress(Exception):
            await msg.ack()

    async def _attempts(self, commit: Commit, state: str, stop: asyncio.Event, msg: Msg) -> None:
        shown = await self.recorded.reported(commit.run_id, commit.step)
        if behind(shown, state):  # JetStream redelivered a report never acknowledged
            log.info(
                "commit status of run %s (%s): %s not sent, the commit already shows %s",
                commit.run_id,
                commit.context,
                state,
                shown,
            )
            return
        target_url = f"{self.dashboard_url}/dashboard/runs/{commit.run_id}"
        first, attempt = time.monotonic(), 0
        while True:
            attempt += 1
            status, error = await self._send(commit, state, target_url)
            created = self.checks.created(commit.run_id, commit.step)
            await self._record(commit, state, attempt, status, error, target_url, created)
            retry = status is None or status >= 500 or status in RETRYABLE
            if not retry or (status is None and error.startswith(("no project secret", BAD_KEY))):
                return
            wait = self.backoff.next_wait(attempt, time.monotonic() - first)
            if wait is None:
                return
            with contextlib.suppress(Exception):
                await msg.in_progress()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)
            if stop.is_set():
                return

    async def _send(self, commit: Commit, state: str, target_url: str) -> tuple[int | None, str]:
        app = None
        if commit.host == "github":
            app = await installation(self.reveal, self.pool, commit.project_id, self.api_urls)
        if app is not None:
            return await self.checks.report(
                app,
                run_id=commit.run_id,
                step=commit.step,
                repo=commit.repo,
                sha=commit.sha,
                name=commit.context,
                state=state,
                details_url=target_url,
                intend=lambda external: self._record_request(commit, state, external),
            )
        token_name = hosts.TOKEN_SECRETS[commit.host]
        secret = await self.reveal(self.pool, str(commit.project_id), token_name)
        if secret is None:
            return None, f"no project secret {token_name}: nothing reported"
        api = self.api_urls[commit.host]
        if commit.host == "github":
            request = hosts.github(
                api, commit.repo, commit.sha, state, secret.value, target_url, commit.context
            )
        else:
            request = hosts.gitlab(
                api,
                commit.repo,
                commit.sha,
                state,
                secret.value,
                target_url,
                commit.context,
                commit.ref,
            )
        try:
            response = await self.client.post(
                request.url, json=request.body, headers=request.headers
            )
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"[:500]
        ok = 200 <= response.status_code < 300
        return response.status_code, "" if ok else response.text[:500]

    async def _record_request(self, commit: Commit, state: str, external_id: str) -> None:
        command = RecordCheckRunRequest(
            run_id=commit.run_id,
            project_id=commit.project_id,
            repo=commit.repo,
            sha=commit.sha,
            step=commit.step,
            name=commit.context,
            external_id=external_id,
            state=state,  # type: ignore[arg-type]
        )
        await self.dispatch(command, _context(commit))

    async def _record(
        self,
        commit: Commit,
        state: str,
        attempt: int,
        status: int | None,
        error: str,
        target_url: str,
        check_run_id: int | None = None,
    ) -> None:
        command = RecordCommitStatusAttempt(
            run_id=commit.run_id,
            project_id=commit.project_id,
            host=commit.host,  # type: ignore[arg-type]
            repo=commit.repo,
            sha=commit.sha,
            state=state,  # type: ignore[arg-type]
            attempt=attempt,
            http_status=status,
            error=error,
            target_url=target_url,
            step=commit.step,
            check_run_id=check_run_id,
        )
        await self.dispatch(command, _context(commit))


def _context(commit: Commit) -> CommandContext:
    return CommandContext(
        principal=DELIVERER, at=datetime.now(UTC), correlation_id=f"commit-status:{commit.run_id}"
    )
