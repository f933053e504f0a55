"""What an append bench measures beside its rates: CPU per unit, the client's and the embedded
PostgreSQL's (its reaped backends included), and how many units shared each WAL flush."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg

from adapters.telemetry.metrics import APPEND_BATCH_SIZE

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _process_cpu(pid: int, *, with_reaped: bool) -> float:
    """CPU seconds of `pid` (user + system), plus its reaped children's when asked."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if with_reaped:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / _CLOCK_TICKS


def server_cpu(postmaster: int | None) -> float:
    """CPU seconds spent by the embedded PostgreSQL so far: the postmaster, its live children
    and the children it has reaped (backends of closed connections). 0.0 when not ours."""
    if postmaster is None or not Path("/proc").is_dir():
        return 0.0
    total = _process_cpu(postmaster, with_reaped=True)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(stat[1]) == postmaster:
            total += _process_cpu(int(entry.name), with_reaped=True)
    return total


class CpuMeter:
    """Client and server CPU microseconds per unit over the measured slices."""

    def __init__(self, postmaster: int | None) -> None:
        self.postmaster = postmaster
        self.client = 0.0
        self.server = 0.0
        self.units = 0.0

    @contextlib.contextmanager
    def measuring(self) -> Iterator[None]:
        client, server = time.process_time(), server_cpu(self.postmaster)
        yield
        self.client += time.process_time() - client
        self.server += server_cpu(self.postmaster) - server

    def per_unit(self) -> str:
        if not self.units:
            return "n/a"
        server = f"{self.server / self.units * 1e6:.0f}" if self.postmaster else "n/a"
        return f"client {self.client / self.units * 1e6:.0f} us, server {server} us"


WAL_FLUSHES = "SELECT sum(fsyncs) FROM pg_stat_io WHERE object = 'wal'"


async def wal_flushes(url: str) -> float | None:
    """WAL flushes (fdatasync calls) so far, from pg_stat_io; None before PostgreSQL 18."""
    conn = await asyncpg.connect(url)
    try:
        # Backends report their I/O counts when they exit or about once a second; the
        # closed connections of a slice have exited by then.
        await asyncio.sleep(1.1)
        return float(await conn.fetchval(WAL_FLUSHES) or 0)
    except asyncpg.PostgresError:
        return None
    finally:
        await conn.close()


class FlushMeter:
    """Units per WAL flush over the measured slices: how many appends or rows shared one."""

    def __init__(self) -> None:
        self.flushes: float | None = 0.0
        self.units = 0.0

    def add(self, before: float | None, after: float | None, units: float) -> None:
        if before is None or after is None or self.flushes is None:
            self.flushes = None
            return
        self.flushes += after - before
        self.units += units

    def per_flush(self) -> str:
        if not self.flushes:
            return "n/a"
        return f"{self.units / self.flushes:.1f} per WAL flush"


def _batches_so_far() -> tuple[float, float]:
    """(group-commit calls, events they wrote) in this process so far."""
    found = {s.name: s.value for s in APPEND_BATCH_SIZE.collect()[0].samples}
    name = "flowledger_append_batch_events"
    return found.get(f"{name}_count", 0.0), found.get(f"{name}_sum", 0.0)


class BatchMeter:
    """Group-commit calls per second and their mean size over the measured slices: with one
    batch in flight at a time, the client's and the server's work alternate once per call."""

    def __init__(self) -> None:
        self.calls = 0.0
        self.events = 0.0
        self.seconds = 0.0

    @contextlib.contextmanager
    def measuring(self) -> Iterator[None]:
        (calls, events), started = _batches_so_far(), time.perf_counter()
        yield
        after_calls, after_events = _batches_so_far()
        self.calls += after_calls - calls
        self.events += after_events - events
        self.seconds += time.perf_counter() - started

    def per_second(self) -> str:
        if not self.calls:
            return "n/a"
        return (
            f"{self.calls / self.seconds:,.0f} batches/s of {self.events / self.calls:.1f} "
            "events on average"
        )
