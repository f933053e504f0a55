"""The runner's reports against the real API: one claim wins, retries replay, chunks land once."""

from __future__ import annotations

from uuid import uuid4

import pytest

from adapters.runner.api import ApiUnavailable, Refused, RunnerApi, Stale
from tests.helpers import unique_id
from tests.integration.runner.stack import Stack


async def queued_run(stack: Stack, label: str) -> str:
    """A run whose only step is dispatched and waits for a runner (none serves `label`)."""
    pipeline = await stack.pipeline([{"name": "only", "run": "true", "labels": [label]}])
    run_id = await stack.trigger(pipeline)
    await stack.wait_for_event(run_id, ("StepDispatched",))
    return run_id


def claim(runner: str) -> dict[str, object]:
    return {"step": "only", "status": "running", "attempt": 1, "runner": runner}


async def test_one_claim_of_an_attempt_wins_and_a_retried_claim_replays(
    stack: Stack, label: str
) -> None:
    run_id = await queued_run(stack, label)
    async with RunnerApi(stack.api_url, stack.runner_token) as api:
        first = await api.report_step(
            run_id, claim("one"), key="job:one:running", traceparent=None, retry_for_s=5
        )
        # The same runner asking again (its answer was lost) gets the same answer back...
        again = await api.report_step(
            run_id, claim("one"), key="job:one:running", traceparent=None, retry_for_s=5
        )
        assert again == first
        # ...another runner that took a second copy of the job is told it is stale.
        with pytest.raises(Stale) as refused:
            await api.report_step(
                run_id, claim("two"), key="job:two:running", traceparent=None, retry_for_s=5
            )
    assert refused.value.status == 409
    started = [d["runner"] for _, t, d in await stack.events(run_id) if t == "StepStarted"]
    assert started == ["one"]


async def test_a_chunk_sent_twice_is_appended_once(stack: Stack, label: str) -> None:
    run_id = await queued_run(stack, label)
    chunk = {"seq": 1, "step": "only", "stream": "stdout", "text": "hello\n"}
    async with RunnerApi(stack.api_url, stack.runner_token) as api:
        await api.report_step(run_id, claim("one"), key=unique_id(), traceparent=None,
                              retry_for_s=5)  # fmt: skip
        # Two keys: as if the first POST committed but its answer never came back.
        for key in (unique_id(), unique_id()):
            await api.append_logs(run_id, [chunk], key=key, traceparent=None, retry_for_s=5)
        with pytest.raises(Refused) as gap:
            await api.append_logs(
                run_id, [chunk | {"seq": 3}], key=unique_id(), traceparent=None, retry_for_s=5
            )
    assert (gap.value.status, gap.value.code) == (422, "log_sequence_gap")
    texts = [d["text"] for _, t, d in await stack.events(run_id) if t == "LogChunkAppended"]
    assert texts == ["hello\n"]


async def test_a_bad_key_is_refused_and_a_dead_api_gives_up_at_the_deadline(
    stack: Stack,
) -> None:
    async with RunnerApi(stack.api_url, "flk_not-a-key") as api:
        with pytest.raises(Refused) as refused:
            await api.heartbeat(uuid4(), [])
    assert refused.value.status == 401
    async with RunnerApi("http://127.0.0.1:9", stack.runner_token) as api:
        with pytest.raises(ApiUnavailable):
            await api.post("/api/v1/runners", {}, retry_for_s=0.3)
