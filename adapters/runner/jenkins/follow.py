"""One attempt of a jenkins step: queue the build, wait for it to start, stream its console into
the step's log, and end with its result (domain/jenkins_spec.py maps the results).

A stop (the run cancelled or timed out, the attempt failed elsewhere) while the build waits
in Jenkins' queue cancels the queue item; once it runs, `POST .../stop` aborts it and the
console is followed to its end (bounded), so the log shows Jenkins' own last words.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import TypeVar

from adapters.runner.attempt import REASON_MAX, Outcome
from adapters.runner.jenkins.client import (
    Executable,
    JenkinsClient,
    JenkinsError,
    JenkinsUnreachable,
    QueueItem,
)
from adapters.runner.logship import LogShipper
from adapters.runner.watch import StopWatch
from adapters.streaming.jobs import Job, JobJenkins
from domain.jenkins_spec import step_result

POLL_S = 1.0
UNREACHABLE_FOR_S = 60.0
"""How long Jenkins may stay out of reach (no answer, 5xx) before the step fails."""
STOPPING_S = 30.0
"""After asking Jenkins to stop the build: how long its console is followed to the end."""

Link = Callable[[int | None, str | None], Awaitable[None]]
"""Tells the API a build is about to be requested (None, None), then which build the attempt
started (number, URL): Jenkins' own notifications about it are folded into this run."""
_T = TypeVar("_T")


class _Stopped(Exception):
    """The step must stop (watch) or ran out of time: the status and reason to report."""

    def __init__(self, status: str, reason: str) -> None:
        self.status, self.reason = status, reason
        super().__init__(reason)


async def run_jenkins_attempt(
    job: Job,
    *,
    shipper: LogShipper,
    watch: StopWatch,
    secret_env: Mapping[str, str],
    link: Link,
    poll_s: float = POLL_S,
) -> Outcome:
    assert job.jenkins is not None
    spec = job.jenkins
    token = secret_env.get(spec.token_secret)
    if token is None:
        return _failed(shipper, f"no value for the Jenkins token secret {spec.token_secret}", 0)
    follower = _Follower(job, spec, shipper, watch, poll_s)
    async with JenkinsClient(spec.url, spec.user, token) as jenkins:
        try:
            return await follower.run(jenkins, link)
        except JenkinsError as error:
            return _failed(shipper, f"Jenkins: {error}", follower.elapsed_ms())


class _Follower:
    def __init__(
        self, job: Job, spec: JobJenkins, shipper: LogShipper, watch: StopWatch, poll_s: float
    ) -> None:
        self.job, self.spec, self.shipper, self.watch, self.poll_s = (
            job, spec, shipper, watch, poll_s,
        )  # fmt: skip
        self.loop = asyncio.get_running_loop()
        self.started = self.loop.time()
        self.deadline = self.started + job.timeout_s
        self.console_at = 0
        """The console's next byte (`start`), from Jenkins' `X-Text-Size`."""

    def elapsed_ms(self) -> int:
        return round((self.loop.time() - self.started) * 1000)

    async def run(self, jenkins: JenkinsClient, link: Link) -> Outcome:
        spec, note = self.spec, self.shipper.note
        await self._tell(link, None, None)
        try:
            item_url = await self._patient(lambda: jenkins.trigger(spec.job, spec.parameters))
            note(f"Jenkins: {spec.job} queued as {item_url}")
            build = await self._until_started(jenkins, item_url)
        except _Stopped as stopped:
            return self._outcome(stopped.status, stopped.reason)
        if build is None:
            return _failed(self.shipper, "Jenkins: the queue item was cancelled", self.elapsed_ms())
        url = build.url or jenkins.build_url(spec.job, build.number)
        note(f"Jenkins: build #{build.number} started: {url}")
        await self._tell(link, build.number, url)
        outputs = {"build_number": str(build.number), "build_url": url}
        try:
            result = await self._follow(jenkins, build.number)
        except _Stopped as stopped:
            await self._stop(jenkins, build.number, stopped.reason)
            return self._outcome(stopped.status, stopped.reason, outputs)
        status, reason = step_result(result)
        note(f"Jenkins: build #{build.number} finished: {result}")
        return self._outcome(status, reason, {**outputs, "result": result or ""})

    async def _tell(self, link: Link, number: int | None, url: str | None) -> None:
        try:
            await link(number, url)
        except Exception as error:  # the step goes on; only the folding of notifications is lost
            self.shipper.note(f"could not tell the server about the Jenkins build: {error}")

    async def _until_started(self, jenkins: JenkinsClient, item_url: str) -> Executable | None:
        """The build once it has one; None if the queue item was cancelled in Jenkins."""
        said = None
        item = await self._patient(lambda: jenkins.queue_item(item_url))
        while True:
            if item.cancelled:
                return None
            if item.executable is not None:
                return item.executable
            if item.why and item.why != said:
                self.shipper.note(f"Jenkins: waiting: {item.why}")
                said = item.why
            try:
                await self._pause()
                item = await self._patient(lambda: jenkins.queue_item(item_url))
            except _Stopped:
                await self._cancel_queued(jenkins, item)
                raise

    async def _follow(self, jenkins: JenkinsClient, number: int) -> str | None:
        """Stream the console until Jenkins says there is no more; the build's result."""
        while True:
            piece = await self._patient(
                partial(jenkins.console, self.spec.job, number, self.console_at)
            )
            if piece.text:
                self.shipper.feed(piece.text)
            self.console_at = max(self.console_at, piece.next_start)
            if not piece.more:
                break
            if not piece.text:
                await self._pause()
        # The console is complete only once the build is done; its result may lag a moment.
        while (state := await self._patient(lambda: jenkins.build(self.spec.job, number))).building:
            await self._pause()
        return state.result

    async def _stop(self, jenkins: JenkinsClient, number: int, reason: str) -> None:
        self.shipper.note(f"{reason}: aborting Jenkins build #{number}")
        try:
            await jenkins.stop(self.spec.job, number)
            async with asyncio.timeout(STOPPING_S):
                while True:  # the console from where it was left: each byte logged once
                    piece = await jenkins.console(self.spec.job, number, self.console_at)
                    self.shipper.feed(piece.text)
                    self.console_at = max(self.console_at, piece.next_start)
                    if not piece.more:
                        return
                    await asyncio.sleep(self.poll_s)
        except (JenkinsError, TimeoutError) as error:
            self.shipper.note(f"Jenkins: the build may still be running: {error!s}")

    async def _cancel_queued(self, jenkins: JenkinsClient, item: QueueItem) -> None:
        self.shipper.note(f"{self.watch.reason or 'stopping'}: cancelling the Jenkins queue item")
        with contextlib.suppress(JenkinsError):
            await jenkins.cancel_queued(item)

    async def _pause(self) -> None:
        """Wait one poll; raise _Stopped when the step must stop or its time is up."""
        left = self.deadline - self.loop.time()
        if not self.watch.stopped.is_set() and left > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.watch.stopped.wait(), min(self.poll_s, left))
        if self.watch.stopped.is_set():
            raise _Stopped("cancelled" if self.watch.cancel else "failed", self.watch.reason)
        if self.loop.time() >= self.deadline:
            raise _Stopped("timed_out", f"timed out after {self.job.timeout_s}s")

    async def _patient(self, call: Callable[[], Awaitable[_T]]) -> _T:
        """`call`, asked again while Jenkins is out of reach, up to UNREACHABLE_FOR_S."""
        gave_up_at = self.loop.time() + UNREACHABLE_FOR_S
        while True:
            try:
                return await call()
            except JenkinsUnreachable as error:
                if self.loop.time() >= gave_up_at:
                    raise JenkinsError(
                        f"out of reach for {UNREACHABLE_FOR_S:g}s: {error}"
                    ) from error
                self.shipper.note(f"Jenkins: {error}; asking again")
                await self._pause()

    def _outcome(self, status: str, reason: str, outputs: dict[str, str] | None = None) -> Outcome:
        return Outcome(
            status=status,  # type: ignore[arg-type]  # one of the step statuses
            exit_code=None,
            reason=reason[:REASON_MAX],
            duration_ms=self.elapsed_ms(),
            outputs={key: self.shipper.mask(value) for key, value in (outputs or {}).items()},
        )


def _failed(shipper: LogShipper, reason: str, duration_ms: int) -> Outcome:
    shipper.note(reason)
    return Outcome(
        status="failed", exit_code=None, reason=reason[:REASON_MAX], duration_ms=duration_ms
    )
