"""The runner's side of a step's `secrets:`: fetch the values for the attempt it claimed.

Fetched after the claim (only the runner running the attempt may have them), kept in memory
for the step's environment and the log masker, never written to a file or a log.
"""

from __future__ import annotations

from adapters.runner.api import ApiError, ApiUnavailable, RunnerApi
from adapters.streaming.jobs import Job


async def fetch_secrets(
    api: RunnerApi, job: Job, runner_id: str
) -> tuple[dict[str, str], str | None]:
    """(name -> value, None), or ({}, why the attempt cannot run) when they cannot be had."""
    if not job.secrets:
        return {}, None
    body = {"step": job.step, "attempt": job.attempt, "runner": runner_id}
    try:
        values = await api.step_secrets(job.run_id, body, traceparent=job.traceparent)
    except ApiUnavailable as exc:
        return {}, f"could not fetch the step's secrets: {exc}"
    except ApiError as exc:
        return {}, f"the step's secrets were refused: {exc.detail} ({exc.code})"
    if missing := sorted(set(job.secrets) - values.keys()):
        return {}, f"the API gave no value for the secret(s) {', '.join(missing)}"
    return {name: values[name] for name in job.secrets}, None
