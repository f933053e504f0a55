"""The API's last lifespan: start-up's heap frozen, young collections rarer, both undone after."""

from __future__ import annotations

import gc

from litestar import Litestar

from adapters.bootstrap.heap import YOUNG_THRESHOLD, startup_heap_frozen


async def test_the_heap_is_frozen_and_young_collections_rarer_while_the_app_runs() -> None:
    before = gc.get_threshold()
    async with startup_heap_frozen(Litestar()):
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (YOUNG_THRESHOLD, *before[1:])
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before
