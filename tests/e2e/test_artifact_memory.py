"""A 50 MB artifact through a real `flowledger runner` process, up to the object store and
down into a later step, while the runner's peak memory (VmHWM) stays far below the file."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

from tests.e2e.test_runner_processes import runner_process
from tests.integration.runner.conftest import label, runner_settings, shared, stack  # noqa: F401
from tests.integration.runner.files_support import succeeded
from tests.integration.runner.stack import Stack

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")

SIZE = 50 * 1024 * 1024
GROWTH_MAX = 30 * 1024 * 1024
"""Generous: a runner holding the file whole would grow by at least its 50 MB."""


def memory(pid: int, field: str) -> int:
    """VmRSS (now) or VmHWM (peak) of the process, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} for {pid}")


async def test_a_big_artifact_is_streamed_with_the_runners_memory_bounded(
    stack: Stack,  # noqa: F811
    label: str,  # noqa: F811
    shared: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    make = f"mkdir -p out && head -c {SIZE} /dev/urandom > out/big.bin"
    check = f"sha256sum out/big.bin | cut -d' ' -f1 > {shared}/seen"
    pipeline = await stack.pipeline(
        [
            {"name": "make", "run": make, "labels": [label], "artifacts": ["out/big.bin"]},
            {"name": "check", "run": check, "labels": [label], "workspace": "clean",
             "download": ["make"]},
        ]
    )  # fmt: skip
    async with runner_process(stack, label, f"big-{label}", tmp_path / "runner.log") as process:
        before = memory(process.pid, "VmRSS")
        run_id = await stack.trigger(pipeline)
        assert await succeeded(stack, run_id)
        peak = memory(process.pid, "VmHWM")

    upload = next(
        d for _, t, d in await stack.events(run_id)
        if t == "ArtifactUploaded" and d["kind"] == "artifact"
    )  # fmt: skip
    assert upload["size"] == SIZE
    assert (shared / "seen").read_text().strip() == upload["sha256"]
    print(f"runner RSS before {before / 2**20:.1f} MiB, peak {peak / 2**20:.1f} MiB")
    assert peak - before < GROWTH_MAX, (before, peak)

    # And down through the API, streamed: the bytes hash to what was recorded.
    digest = hashlib.sha256()
    url = f"/api/v1/pipeline-runs/{run_id}/artifacts/make"
    async with stack.http.stream("GET", url, headers=stack.admin) as answer:
        assert answer.status_code == 200
        async for block in answer.aiter_bytes():
            digest.update(block)
    assert digest.hexdigest() == upload["sha256"]
