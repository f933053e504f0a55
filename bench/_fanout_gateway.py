"""The gateway's share of the machine for bench/fanout.py: its memory, CPU (user, system), the
time its event loop waited for a core, and how often it was preempted (/proc)."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def gateway_share(
    pid: int, start: float, end: float
) -> tuple[tuple[float, float], float, int]:
    """In the window: the gateway's CPU seconds (user, system), its event loop's seconds spent
    runnable but waiting for a core (/proc/PID/schedstat), and how often it was preempted."""
    await asyncio.sleep(max(0.0, start - time.time()))
    (user0, system0), wait0, preempted0 = _cpu(pid), _waited_seconds(pid), _preempted(pid)
    await asyncio.sleep(max(0.0, end - time.time()))
    (user1, system1), wait1, preempted1 = _cpu(pid), _waited_seconds(pid), _preempted(pid)
    return (user1 - user0, system1 - system0), wait1 - wait0, preempted1 - preempted0


def _waited_seconds(pid: int) -> float:
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9


def _preempted(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("nonvoluntary_ctxt_switches:"):
            return int(line.split()[1])
    raise RuntimeError("no nonvoluntary_ctxt_switches")


def _cpu(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick
