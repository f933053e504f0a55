"""A process's heap: what start-up built is left out of the garbage collector's passes (the
API's, from its last lifespan; a background role's, such as the intake's or the projector's,
once its imports are done).

Routes, schemas, the registry, the imported modules: hundreds of thousands of objects that
live as long as the process, which every full collection walked again. Under load, collections
took an eighth of the server's CPU (py-spy on bench/commands.py). Frozen once the app is up,
they are never walked; objects made afterwards are collected as before. Reference counting
frees frozen objects as usual: only cycles among them wait, until the app stops.

Young collections are made rarer too. At CPython's default (one every 700 allocations) the
objects of the requests in flight were walked in nearly every one and promoted towards the
old generations, whose collections then walked them again: under bench/commands.py's load
(32 clients) that was 2 to 4 times the collection time of a raised threshold, and the old
ones' pauses (tens of milliseconds) showed in p99. Garbage is still freed by reference
counting at once; only cycles wait a little longer, and a young generation of 20,000 objects
is a few megabytes at most.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator, Iterator

from litestar import Litestar

YOUNG_THRESHOLD = 20_000
"""Allocations between young collections (CPython's default is 700)."""


@contextlib.asynccontextmanager
async def startup_heap_frozen(_app: Litestar) -> AsyncIterator[None]:
    """A lifespan, entered last: everything opened before it is frozen."""
    with heap_frozen():
        yield


@contextlib.contextmanager
def heap_frozen() -> Iterator[None]:
    """What exists now is left out of the collector's passes, and young collections are rarer,
    until the block ends (a background role's process: its imports, entered before it runs)."""
    gc.freeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
