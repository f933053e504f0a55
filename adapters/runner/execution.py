"""One job from message to ack: claim the attempt, run it, ship its output, report how it ended.

The API decides who runs an attempt: the "running" report is refused (409) when the attempt
is stale or already running elsewhere, and then the job is acked and dropped unrun. Every
report's Idempotency-Key names this runner process, so only its own retries are replayed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import Any

import msgspec
from nats.aio.client import Client as Nats
from nats.aio.msg import Msg
from opentelemetry.trace import SpanKind

from adapters.runner.api import ApiError, ApiUnavailable, JobRef, RunnerApi, Stale
from adapters.runner.attempt import Outcome, run_attempt
from adapters.runner.config import RunnerConfig
from adapters.runner.files.step_files import StepFiles
from adapters.runner.files.workspaces import RunFolders
from adapters.runner.jenkins.follow import run_jenkins_attempt
from adapters.runner.logship import LogShipper
from adapters.runner.step_secrets import fetch_secrets
from adapters.runner.watch import StopSignals, StopWatch
from adapters.streaming.jobs import Job
from adapters.telemetry.tracing import current_traceparent, span

log = logging.getLogger(__name__)

CLAIM_RETRY_S = 30.0
REPORT_RETRY_S = 300.0
"""A finished step's report is worth waiting for: the API may be restarting."""
SHIP_CLOSE_S = 60.0
REASON_MAX = 500
REDELIVER_AFTER_S = 5.0


class Execution:
    def __init__(
        self,
        job: Job,
        msg: Msg,
        *,
        api: RunnerApi,
        nc: Nats,
        signals: StopSignals,
        config: RunnerConfig,
        runner_id: str,
        instance: str,
    ) -> None:
        self.job, self._msg, self._api, self._nc = job, msg, api, nc
        self._signals = signals
        self._config, self._runner_id = config, runner_id
        self._key = f"{job.job_id}:{instance}"
        self._traceparent = job.traceparent
        self._watch: StopWatch | None = None
        self._abort_reason: str | None = None
        self.ref = JobRef(run_id=job.run_id, step=job.step, attempt=job.attempt)

    def abort(self, reason: str) -> None:
        """Stop the step (the runner is shutting down); it is reported failed, so retried."""
        self._abort_reason = reason
        if self._watch is not None:
            self._watch.stop(reason)

    async def run(self) -> None:
        job = self.job
        attributes = {"flowledger.run_id": str(job.run_id), "flowledger.step": job.step}
        with span(
            "runner step",
            parent=job.traceparent,
            kind=SpanKind.CONSUMER,
            attributes={**attributes, "flowledger.attempt": job.attempt},
        ):
            # Reports and log chunks name this span: the step is one hop of the run's trace.
            self._traceparent = current_traceparent() or job.traceparent
            await self._run()

    async def _run(self) -> None:
        renewing = asyncio.create_task(self._keep_in_progress(), name=f"renew-{self.job.step}")
        try:
            with self._signals.watching(self.job) as watch:
                self._watch = watch
                if self._abort_reason is not None:
                    watch.stop(self._abort_reason)
                await self._claim_and_run(watch)
        finally:
            renewing.cancel()

    async def _claim_and_run(self, watch: StopWatch) -> None:
        job = self.job
        if watch.stopped.is_set():
            await self._msg.nak(delay=REDELIVER_AFTER_S)  # not claimed: another runner may
            return
        try:
            await self._report({"status": "running"}, "running", CLAIM_RETRY_S)
        except ApiUnavailable as exc:
            log.warning("could not claim %s/%s#%d: %s", job.run_id, job.step, job.attempt, exc)
            await self._msg.nak(delay=REDELIVER_AFTER_S)
            return
        except ApiError as exc:
            level = logging.INFO if isinstance(exc, Stale) else logging.ERROR
            log.log(level, "dropping %s/%s#%d: %s", job.run_id, job.step, job.attempt, exc)
            await self._msg.ack()
            return
        log.info("running %s/%s#%d", job.run_id, job.step, job.attempt)
        secret_env, refused = await fetch_secrets(self._api, job, self._runner_id)
        shipper = LogShipper(
            self._api,
            run_id=job.run_id,
            step=job.step,
            job_key=self._key,
            first_seq=job.log_seq,
            traceparent=self._traceparent,
            chunk_bytes=self._config.log_chunk_bytes,
            step_bytes=self._config.log_step_bytes,
            flush_s=self._config.log_flush_s,
            secrets=[*self._config.masked_values(os.environ), *secret_env.values()],
        )
        files = None
        if job.files is not None:
            files = StepFiles(
                job,
                job.files,
                js=self._nc.jetstream(),
                api=self._api,
                note=shipper.note,
                folders=RunFolders(self._config.work_dir),
                max_bytes=self._config.artifact_max_bytes,
                record_key=self._key,
            )
        try:
            if refused is not None:
                shipper.note(refused)
                outcome = Outcome(status="failed", exit_code=None, reason=refused, duration_ms=0)
            elif job.jenkins is not None:
                outcome = await run_jenkins_attempt(
                    job,
                    shipper=shipper,
                    watch=watch,
                    secret_env=secret_env,
                    link=self._link_build,
                    poll_s=self._config.jenkins_poll_s,
                )
            else:
                outcome = await run_attempt(
                    job,
                    shipper=shipper,
                    watch=watch,
                    runner_id=self._runner_id,
                    work_dir=self._config.work_dir,
                    kill_grace_s=self._config.kill_grace_s,
                    secret_env=secret_env,
                    files=files,
                )
        except Exception as exc:  # e.g. no room for its folder: the attempt must still end
            log.exception("%s/%s#%d could not be run", job.run_id, job.step, job.attempt)
            shipper.note(f"the runner could not run the step: {exc}")
            reason = f"runner error: {exc}"[:REASON_MAX]
            outcome = Outcome(status="failed", exit_code=None, reason=reason, duration_ms=0)
        finally:
            # The output goes before the report: once the step is finished, the run may be too.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(shipper.close(), SHIP_CLOSE_S)
        await self._finish(outcome, shipper)

    async def _finish(self, outcome: Outcome, shipper: LogShipper) -> None:
        job = self.job
        metrics = {
            "duration_ms": float(outcome.duration_ms),
            "log_bytes": float(shipper.kept_bytes),
            "log_bytes_dropped": float(shipper.dropped_bytes),
        }
        body: dict[str, Any] = {
            "status": outcome.status,
            "exit_code": outcome.exit_code,
            "reason": outcome.reason[:REASON_MAX],  # a cancel's reason is the user's text
            "outputs": outcome.outputs,
            "metrics": metrics,
        }
        if outcome.checkout is not None:
            body["checkout"] = msgspec.structs.asdict(outcome.checkout)
            metrics["checkout_ms"] = float(outcome.checkout.duration_ms)
        try:
            await self._report(body, "finished", REPORT_RETRY_S)
        except ApiUnavailable as exc:
            log.error("%s/%s#%d ended %s but could not be reported: %s",
                      job.run_id, job.step, job.attempt, outcome.status, exc)  # fmt: skip
        except ApiError as exc:
            log.info("%s/%s#%d ended %s; the report was refused: %s",
                     job.run_id, job.step, job.attempt, outcome.status, exc)  # fmt: skip
        else:
            log.info("%s/%s#%d %s", job.run_id, job.step, job.attempt, outcome.status)
        # Acked either way: running this attempt again could only be refused.
        await self._msg.ack()

    async def _link_build(self, number: int | None, url: str | None) -> None:
        body = {"step": self.job.step, "attempt": self.job.attempt, "runner": self._runner_id,
                "number": number, "url": url}  # fmt: skip
        what = "requested" if number is None else "linked"
        await self._api.link_jenkins_build(
            self.job.run_id, body, key=f"{self._key}:jenkins-{what}", traceparent=self._traceparent
        )

    async def _report(self, fields: dict[str, Any], what: str, retry_for_s: float) -> None:
        body = {
            "step": self.job.step,
            "attempt": self.job.attempt,
            "runner": self._runner_id,
            **fields,
        }
        await self._api.report_step(
            self.job.run_id,
            body,
            key=f"{self._key}:{what}",
            traceparent=self._traceparent,
            retry_for_s=retry_for_s,
        )

    async def _keep_in_progress(self) -> None:
        # Without it, JetStream would hand a long step's job to another runner after ack_wait.
        while True:
            await asyncio.sleep(self._config.ack_wait_s / 3)
            try:
                await self._msg.in_progress()
            except Exception as exc:  # NATS reconnecting: the next one may get through
                log.warning("in-progress ack for %s failed: %s", self.job.job_id, exc)
