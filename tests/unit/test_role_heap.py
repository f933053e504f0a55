"""A background role's process (`flowledger intake`, `projector`, ...) runs with start-up's heap
frozen and young collections rarer, as the API does: its batches allocate thousands of
objects, and every collection walked the imported modules again."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

from adapters.bootstrap import processes
from adapters.bootstrap.heap import YOUNG_THRESHOLD, heap_frozen
from adapters.platform.settings import load_settings
from adapters.platform.supervisor import Role


def test_heap_frozen_freezes_and_raises_the_young_threshold_until_it_ends() -> None:
    before = gc.get_threshold()
    with heap_frozen():
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (YOUNG_THRESHOLD, *before[1:])
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before


def test_a_role_run_alone_runs_with_the_heap_frozen(tmp_path: Path) -> None:
    env = {"FLOWLEDGER_DATABASE_URL": "postgresql://unused", "FLOWLEDGER_NATS_URL": "nats://unused"}
    settings = load_settings(env, cwd=tmp_path)
    seen: list[tuple[int, int]] = []

    async def run(stop: asyncio.Event) -> None:
        seen.append((gc.get_freeze_count(), gc.get_threshold()[0]))

    processes._alone(settings, lambda _: None, "probe-less", lambda urls: Role("heap", run))

    assert seen and seen[0][0] > 0 and seen[0][1] == YOUNG_THRESHOLD
    assert gc.get_freeze_count() == 0
