"""Cancelling a run stops a step's file transfer under way (issue 18, items 4 and 5): a
large artifact's upload, and a large download, are aborted within moments through the real
runner and the real NATS object store; nothing partial is left (no object, its chunks
purged, no partial file), and the step ends `cancelled` with why in its log."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient

from adapters.streaming.objects import ARTIFACTS_BUCKET, Missing, bucket, stat
from tests.integration.runner.files_support import listed, succeeded
from tests.integration.runner.stack import WAIT_S, Stack, runners

BIG = 1024**3  # long enough to upload that a cancel lands in the middle
MAKE = f"head -c {BIG} /dev/zero > big.bin"
STREAM = f"OBJ_{ARTIFACTS_BUCKET}"


async def logged(stack: Stack, run_id: str, text: str) -> None:
    async with asyncio.timeout(WAIT_S):
        while True:
            events = await stack.events(run_id)
            if any(t == "LogChunkAppended" and text in d["text"] for _, t, d in events):
                return
            await asyncio.sleep(0.05)


async def cancel(stack: Stack, run_id: str) -> float:
    answer = await stack.http.post(f"/api/v1/pipeline-runs/{run_id}/cancel",
                                   json={"reason": "enough"}, headers=stack.admin)  # fmt: skip
    assert answer.status_code == 202, answer.text
    return time.monotonic()


def log_of(events: list[tuple[int, str, dict[str, Any]]]) -> str:
    return "".join(d["text"] for _, t, d in events if t == "LogChunkAppended")


async def stored_bytes(stack: Stack) -> int:
    nc = NatsClient()
    await nc.connect(str(stack.settings.nats_url))
    try:
        js = nc.jetstream()
        await bucket(js, ARTIFACTS_BUCKET)
        return (await js.stream_info(STREAM)).state.bytes
    finally:
        await nc.close()


async def test_a_cancel_aborts_an_upload_under_way_and_leaves_nothing_partial(
    stack: Stack, label: str
) -> None:
    pipeline = await stack.pipeline(
        [{"name": "build", "run": MAKE, "labels": [label], "artifacts": ["big.bin"]}]
    )
    before = await stored_bytes(stack)
    async with runners(stack.runner_config(label)):
        run_id = await stack.trigger(pipeline)
        await logged(stack, run_id, "uploading big.bin")
        asked = await cancel(stack, run_id)
        assert await stack.finished(run_id) == "RunCancelled"
        took = time.monotonic() - asked

    events = await stack.events(run_id)
    types = [t for _, t, _ in events]
    assert "StepCancelled" in types and "ArtifactUploaded" not in types, types
    assert "upload was aborted" in log_of(events)
    assert took < 10, f"the cancel took {took:.1f}s to stop the upload"
    nc = NatsClient()
    await nc.connect(str(stack.settings.nats_url))
    try:
        store = await bucket(nc.jetstream(), ARTIFACTS_BUCKET)
        with pytest.raises(Missing):  # a stopped upload leaves no object
            await stat(store, f"runs/{run_id}/artifacts/build")
    finally:
        await nc.close()
    # The chunks it had sent were purged: the bucket holds no part of the gigabyte.
    assert await stored_bytes(stack) - before < 1024**2


async def test_a_cancel_aborts_a_download_under_way(
    stack: Stack, label: str, tmp_path: Path
) -> None:
    pipeline = await stack.pipeline(
        [{"name": "build", "run": MAKE, "labels": [label], "artifacts": ["big.bin"]},
         {"name": "use", "run": "ls -l big.bin", "labels": [label], "workspace": "clean",
          "download": ["build"]}]
    )  # fmt: skip
    async with runners(stack.runner_config(label, work_dir=tmp_path)):
        run_id = await stack.trigger(pipeline)
        await listed(stack, run_id, 1)  # build's artifact is stored
        await logged(stack, run_id, "artifact build: downloading")
        asked = await cancel(stack, run_id)
        assert await stack.finished(run_id) == "RunCancelled"
        took = time.monotonic() - asked

    events = await stack.events(run_id)
    cancelled = [d for _, t, d in events if t == "StepCancelled"]
    assert [d["step"] for d in cancelled] == ["use"], cancelled
    assert "stopped fetching the step's files" in log_of(events)
    assert took < 10, f"the cancel took {took:.1f}s to stop the download"
    left = await asyncio.to_thread(lambda: list(tmp_path.rglob("s-use/big.bin")))
    assert not left, "a partial download was left"


async def test_a_step_that_ran_to_the_end_keeps_its_artifact(stack: Stack, label: str) -> None:
    """The interruption is only for a stop: an upload nobody stops completes and is recorded."""
    pipeline = await stack.pipeline(
        [{"name": "build", "run": "head -c 3000000 /dev/zero > b.bin", "labels": [label],
          "artifacts": ["b.bin"]}]
    )  # fmt: skip
    async with runners(stack.runner_config(label)):
        run_id = await stack.trigger(pipeline)
        assert await succeeded(stack, run_id)
    assert (await listed(stack, run_id, 1))[0]["size"] == 3_000_000
