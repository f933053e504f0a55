"""CPU time from /proc: of a process (or one of its threads), of a process and its descendants
(PostgreSQL's backends), and of the whole machine."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def cpu_seconds(pid: int, thread: int | None = None) -> float:
    """User + system CPU time of a process so far (Linux), or of one of its threads (`thread`,
    its id: the process's own id is its main thread)."""
    stat = f"/proc/{pid}/stat" if thread is None else f"/proc/{pid}/task/{thread}/stat"
    fields = Path(stat).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(root_pid: int) -> float:
    """CPU time so far of a process and all its descendants alive now (PostgreSQL's backends)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0.0, [root_pid]
    while todo:
        pid = todo.pop()
        with contextlib.suppress(OSError):
            total += cpu_seconds(pid)
        todo += children.get(pid, [])
    return total


def machine_jiffies() -> list[int]:
    """(busy, all, steal) jiffies over all cores since boot."""
    user, nice, system, idle, iowait, irq, softirq, steal = map(
        int, Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    )
    busy = user + nice + system + irq + softirq + steal
    return [busy, busy + idle + iowait, steal]
