"""The projection bench's live lag (2): the projector runtime in a process of its own while
events are appended through the store; commit -> the runs view's NOTIFY beside the commit's
own."""

from __future__ import annotations

import argparse
import asyncio
import bisect
import signal
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg

from adapters.platform.services import Services
from adapters.store.commit_notes import parse
from bench import _seed as seed
from bench._proc_cpu import cpu_seconds, machine_jiffies
from projections.catalog import ALL

SELF = Path(__file__).resolve().with_name("projection.py")  # its --projector runs the child
ROOT = SELF.parent.parent
MOVES_CHANNEL = "bench_checkpoint_moves"
ANNOUNCE_RUNS_MOVES = f"""
CREATE FUNCTION bench_runs_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{MOVES_CHANNEL}', NEW.name || ':' || NEW.position);
    RETURN NULL;
END $$;
CREATE TRIGGER bench_runs_moved AFTER UPDATE OF position ON projection_checkpoints
    FOR EACH ROW WHEN (NEW.name = 'runs' AND NEW.position IS DISTINCT FROM OLD.position)
    EXECUTE FUNCTION bench_runs_moved();
"""
"""Announces the runs view's checkpoint moves, for the lag (the runs view's commits then take
the notify lock, as every view's did before: the others' do not)."""


async def live_lag(
    args: argparse.Namespace, url: str, history: seed.History, s: Services
) -> dict[str, Any]:
    cmd = [sys.executable, str(SELF), "--projector", url]
    proc = await asyncio.create_subprocess_exec(*cmd, cwd=ROOT)
    listener = await asyncpg.connect(url)
    heard: dict[str, list[tuple[int, float]]] = {"runs": [], "flowledger_events": []}

    def on_notify(_conn: object, _pid: int, channel: str, payload: str) -> None:
        now = time.monotonic()
        if channel == "flowledger_events":
            heard[channel].append((parse(payload).last, now))
            return
        name, _, position = payload.rpartition(":")
        if name == "runs":
            heard[name].append((int(position), now))

    try:
        claimed = "SELECT count(*) FROM projection_checkpoints WHERE owner IS NOT NULL"
        for _ in range(600):  # until the child owns every projection
            if await listener.fetchval(claimed) == len(ALL):
                break
            await asyncio.sleep(0.1)
        else:
            raise SystemExit("the projector process did not claim every projection")
        await listener.execute(ANNOUNCE_RUNS_MOVES)
        await listener.add_listener(MOVES_CHANNEL, on_notify)
        await listener.add_listener("flowledger_events", on_notify)
        logs = seed.log_share(history.scripts, args.events, args.runs)  # as many as the seed has
        cpu, machine, began = cpu_seconds(proc.pid), machine_jiffies(), time.monotonic()
        committed, append_ms, rate = await seed.append_live(
            s.store, history, rate=args.rate, seconds=args.seconds, logs=logs
        )
        cpu = (cpu_seconds(proc.pid) - cpu) / (time.monotonic() - began)
        busy, total, _ = (b - a for a, b in zip(machine, machine_jiffies(), strict=True))
        await asyncio.sleep(2.0)  # the last appends become visible
    finally:
        proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(proc.wait(), 30)
        await listener.close()
    lags: dict[str, list[float]] = {}
    for name, marks in heard.items():  # each in position order
        positions = [p for p, _ in marks]
        lags[name] = []
        for position, at in committed:
            i = bisect.bisect_left(positions, position)
            seen = marks[i][1] if i < len(marks) else float("inf")
            lags[name].append(max(0.0, seen - at) * 1000)
    return {"lags": lags, "append_ms": append_ms, "rate": rate, "cpu": cpu, "busy": busy / total}
