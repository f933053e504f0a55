"""A flowledger server under callgrind, for bench/callgrind_*.py: started with collection off,
counted over one piece of work, then over an idle stretch that is taken off (timers, pings, the
exporter's wake-ups grow with the window's wall time, which a loaded machine stretches)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from bench._http_client import Client
from bench._http_load import ROOT, free_port, server_command


async def healthy(port: int) -> None:
    """Until the server on `port` answers /health with 200 (at most five minutes: valgrind
    starts a server slowly)."""
    for _ in range(600):
        with contextlib.suppress(OSError):
            status, _ = await Client(port, {"Connection": "close"}).request("GET", "/health")
            if status == 200:
                return
        await asyncio.sleep(0.5)


@contextlib.asynccontextmanager
async def callgrind_server(
    factory: str, env: dict[str, str], out: str
) -> AsyncIterator[tuple[int, int]]:
    """`factory` served by one uvicorn worker under callgrind, collection off: (port, pid)."""
    port = free_port()
    valgrind = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        "--separate-threads=yes",
        f"--callgrind-out-file={out}",
    ]
    proc = subprocess.Popen(  # noqa: ASYNC220 (started once, before any load)
        [*valgrind, *server_command(factory, port)],
        cwd=ROOT,
        env=env,
        stderr=subprocess.DEVNULL,
    )
    try:
        await healthy(port)
        yield port, proc.pid
    finally:
        proc.send_signal(2)
        proc.wait(120)


async def counted(
    pid: int, out: str, work: Callable[[], Awaitable[int]], idle_s: float
) -> tuple[int, float, dict[str, float], dict[str, int]]:
    """Instructions of `work` (which answers how many units it did) by thread, net of idle:
    (units, seconds, net by thread, gross by thread). Thread "01" is the event loop's."""
    control(pid, "-i", "on")
    started = time.time()
    units = await work()
    control(pid, "-d")  # the work's dump
    seconds = time.time() - started
    await asyncio.sleep(idle_s)
    control(pid, "-d")
    idle_seconds = time.time() - started - seconds
    control(pid, "-i", "off")
    busy, idle = (threads(out, part) for part in (1, 2))
    net = {t: busy[t] - idle.get(t, 0) / idle_seconds * seconds for t in busy}
    return units, seconds, net, busy


def control(pid: int, *args: str) -> None:
    subprocess.run(["callgrind_control", *args, str(pid)], check=True, capture_output=True)


def threads(out: str, part: int) -> dict[str, int]:
    """Instructions by thread ("01" is the main one) in one dump."""
    found = Path(out).parent.glob(f"{Path(out).name}.{part}-*")
    return {dump.name.rsplit("-", 1)[1]: totals(dump) for dump in found}


def totals(dump: Path) -> int:
    match = re.search(r"^totals: (\d+)", dump.read_text(errors="replace"), re.M)
    assert match, dump
    return int(match.group(1))
