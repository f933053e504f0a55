"""The API process's heap: what start-up built is left out of the garbage collector's passes.

Routes, schemas, the registry, the imported modules: hundreds of thousands of objects that
live as long as the process, which every full collection walked again. Under load, collections
took an eighth of the server's CPU (py-spy on bench/commands.py). Frozen once the app is up,
they are never walked; objects made afterwards are collected as before. Reference counting
frees frozen objects as usual: only cycles among them wait, until the app stops.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator

from litestar import Litestar


@contextlib.asynccontextmanager
async def startup_heap_frozen(_app: Litestar) -> AsyncIterator[None]:
    """A lifespan, entered last: everything opened before it is frozen."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
