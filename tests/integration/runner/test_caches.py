"""Caches through real runners and the real NATS object store: a miss then a hit, the fall back
to the default branch's entry, eviction by size (least recently used first), and each decision
recorded on the run."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from nats.aio.client import Client as NatsClient

from adapters.dispatch.sweeper import Sweeper
from adapters.streaming.objects import ARTIFACTS_BUCKET, CACHES_BUCKET, Missing, bucket, stat
from tests.integration.runner.files_support import listed, succeeded
from tests.integration.runner.stack import WAIT_S, Stack, runners

PREPARE = "echo 'pinned 1.0' > deps.lock\n"
INSTALL = (
    "if [ -f .deps/installed ]; then echo reused >> {shared}/install\n"
    "else mkdir -p .deps && head -c 5000 /dev/urandom > .deps/installed && "
    "echo fresh >> {shared}/install; fi\n"
)
KEY = "deps-${{ hashFiles('deps.lock', '*.nothing') }}"


async def trigger_on(stack: Stack, pipeline_id: str, branch: str) -> str:
    answer = await stack.http.post(
        f"/api/v1/pipelines/{pipeline_id}/runs",
        json={"ref": f"refs/heads/{branch}"},
        headers=stack.admin,
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def decisions(events: list) -> list[tuple[str, ...]]:
    found = []
    for _, t, d in events:
        if t == "CacheRestored":
            found.append((t, d["branch"], "hit" if d["hit"] else "miss", str(d["exact"])))
        elif t == "CacheSaved":
            found.append((t, d["branch"]))
    return found


async def test_a_miss_then_a_hit_then_the_default_branch_then_eviction(
    stack: Stack, label: str, shared: Path
) -> None:
    pipeline = await stack.pipeline(
        [
            {"name": "prepare", "run": PREPARE, "labels": [label]},
            {"name": "install", "run": INSTALL.format(shared=shared), "labels": [label],
             "cache": {"key": KEY, "paths": [".deps"]}},
        ]
    )  # fmt: skip
    async with runners(stack.runner_config(label)):
        first = await trigger_on(stack, pipeline, "main")
        assert await succeeded(stack, first)
        second = await trigger_on(stack, pipeline, "main")
        assert await succeeded(stack, second)
        third = await trigger_on(stack, pipeline, "feature/x")
        assert await succeeded(stack, third)

    assert (shared / "install").read_text().split() == ["fresh", "reused", "reused"]
    assert decisions(await stack.events(first)) == [
        ("CacheRestored", "main", "miss", "False"),
        ("CacheSaved", "main"),
    ]
    # An exact hit is not saved again; another branch falls back to main's, then has its own.
    assert decisions(await stack.events(second)) == [("CacheRestored", "main", "hit", "True")]
    assert decisions(await stack.events(third)) == [
        ("CacheRestored", "main", "hit", "False"),
        ("CacheSaved", "feature/x"),
    ]
    saved = next(d for _, t, d in await stack.events(first) if t == "CacheSaved")
    lock_hash = saved["key"].removeprefix("deps-")
    assert len(lock_hash) == 64 and saved["size"] > 5000

    # Room for one entry: main's was used before feature/x's was saved, so it goes.
    nc = NatsClient()
    await nc.connect(str(stack.settings.nats_url))
    try:
        js = nc.jetstream()
        sweeper = Sweeper(stack.services.bus.dispatch, stack.pool, js,
                          cache_max_bytes=saved["size"] + 10, every_s=60)  # fmt: skip
        await _both_entries_seen(stack, saved["object_key"].rsplit("/", 3)[0])
        await sweeper.evict_caches()
        evicted = [d for _, t, d in await stack.events(first) if t == "CacheEvicted"]
        assert [e["object_key"] for e in evicted] == [saved["object_key"]]
        assert "least recently used" in evicted[0]["reason"]
        store = await bucket(js, CACHES_BUCKET)
        try:
            await stat(store, saved["object_key"])
            raise AssertionError("the evicted entry is still stored")
        except Missing:
            pass
        kept = next(d for _, t, d in await stack.events(third) if t == "CacheSaved")
        assert (await stat(store, kept["object_key"])).size == kept["size"]
    finally:
        await nc.close()


async def _both_entries_seen(stack: Stack, prefix: str) -> None:
    """Wait until the view holds the pipeline's two cache entries."""
    async with asyncio.timeout(WAIT_S):
        while True:
            count = await stack.pool.fetchval(
                "SELECT count(*) FROM rm_artifacts.caches WHERE object_key LIKE $1", prefix + "/%"
            )
            if count == 2:
                return
            await asyncio.sleep(0.05)


async def test_an_expired_artifact_is_deleted_and_the_deletion_recorded(
    stack: Stack, label: str
) -> None:
    pipeline = await stack.pipeline(
        [{"name": "build", "run": "echo hi > out.txt", "labels": [label],
          "artifacts": ["out.txt"], "artifact_retention_days": 1}]
    )  # fmt: skip
    async with runners(stack.runner_config(label)):
        run_id = await stack.trigger(pipeline)
        assert await succeeded(stack, run_id)
    (item,) = await listed(stack, run_id, 1)
    nc = NatsClient()
    await nc.connect(str(stack.settings.nats_url))
    try:
        js = nc.jetstream()
        later = datetime.now(UTC) + timedelta(days=2)
        sweeper = Sweeper(stack.services.bus.dispatch, stack.pool, js, cache_max_bytes=2**40,
                          every_s=60, clock=lambda: later)  # fmt: skip
        assert await sweeper.delete_expired() >= 1
        try:
            await stat(await bucket(js, ARTIFACTS_BUCKET), item["object_key"])
            raise AssertionError("the expired artifact is still stored")
        except Missing:
            pass
    finally:
        await nc.close()
    (deleted,) = [d for _, t, d in await stack.events(run_id) if t == "ArtifactDeleted"]
    assert deleted["object_key"] == item["object_key"]
    assert deleted["reason"].startswith("retention ended")
    url = f"/api/v1/pipeline-runs/{run_id}/artifacts/build"
    answer = await stack.http.get(url, headers=stack.admin)
    assert answer.status_code == 410 and answer.json()["code"] == "artifact_deleted"
