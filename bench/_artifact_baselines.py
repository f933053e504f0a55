"""The baselines of bench/artifacts.py: the same bytes through the NATS object store directly
(whole, file by file, one tar), and `cp` on the same disk."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from pathlib import Path
from typing import Any

import nats


async def direct(
    nats_url: str, big: Path, smalls: Path, scratch: Path, *, per_file: bool
) -> dict[str, float]:
    """The object store used directly. `per_file`: also each small file as an object of its own
    (slow: it runs in the first round only)."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    store = await js.create_object_store("bench-direct")
    out: dict[str, float] = {}
    try:
        began = time.perf_counter()
        with big.open("rb") as file:
            await store.put("big", file)
        out["big upload"] = time.perf_counter() - began
        began = time.perf_counter()
        with (scratch / "big.out").open("wb") as file:
            await store.get("big", writeinto=file)
        out["big download"] = time.perf_counter() - began
        if per_file:
            files = await asyncio.to_thread(
                lambda: sorted(p for p in smalls.rglob("*") if p.is_file())
            )
            began = time.perf_counter()
            for path in files:
                with path.open("rb") as file:
                    await store.put(str(path.relative_to(smalls)), file)
            out["small upload"] = time.perf_counter() - began
            spent = 0.0
            for n, path in enumerate(files, 1):
                target = scratch / "small.out" / path.relative_to(smalls)
                target.parent.mkdir(parents=True, exist_ok=True)
                began = time.perf_counter()
                with target.open("wb") as file:
                    await store.get(str(path.relative_to(smalls)), writeinto=file)
                spent += time.perf_counter() - began
                if n % 200 == 0:
                    await _drop_consumers(js, "OBJ_bench-direct")  # untimed
            out["small download"] = spent
        began = time.perf_counter()
        archive = scratch / "small.tar"
        await asyncio.to_thread(subprocess.run, ["tar", "-cf", str(archive), "-C",
                                str(smalls.parent), smalls.name], check=True)  # fmt: skip
        with archive.open("rb") as file:
            await store.put("small.tar", file)
        out["small tar upload"] = time.perf_counter() - began
        began = time.perf_counter()
        with archive.open("wb") as file:
            await store.get("small.tar", writeinto=file)
        (scratch / "small.tar.out").mkdir()
        await asyncio.to_thread(subprocess.run, ["tar", "-xf", str(archive), "-C",
                                str(scratch / "small.tar.out")], check=True)  # fmt: skip
        out["small tar download"] = time.perf_counter() - began
    finally:
        await js.delete_object_store("bench-direct")
        await nc.close()
    return out


async def _drop_consumers(js: Any, stream: str) -> None:
    """nats-py's `get` leaves each object's ordered consumer to expire on its own: thousands
    at once reach the server's limit, so the ones left are removed (outside the timing)."""
    for info in await js.consumers_info(stream):
        with contextlib.suppress(Exception):
            await js.delete_consumer(stream, info.name)


def copies(big: Path, smalls: Path, scratch: Path) -> dict[str, float]:
    out = {}
    for what, source, flags in (("big", big, []), ("small", smalls, ["-r"])):
        target = scratch / f"{what}.cp"
        began = time.perf_counter()
        subprocess.run(["cp", *flags, str(source), str(target)], check=True)
        out[what] = time.perf_counter() - began
    return out
