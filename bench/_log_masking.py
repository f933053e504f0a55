"""The log-masking half of bench/secrets.py: a step's output through the runner's log path.

A real `bash -e step.sh` (`cat` of a generated log) is read as the runner reads it
(`StepProcess`), fed to the runner's `LogShipper` (decoding, masking, capping, chunking) and
its POSTs counted by an in-process sink: the API's side is the same with or without masking,
so it is left out to show the runner's own cost. Runs with no secrets and with `--secrets`
secrets alternate, in the same process, and the medians are compared.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import string
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from uuid import uuid4

from adapters.runner.logship import LogShipper
from adapters.runner.masking import LogMasker
from adapters.runner.process import READ_BYTES, StepProcess, Workspace

TARGET_RATIO = 0.8


class Sink:
    """Takes every POST of log chunks at once and counts what it was sent (the masks only when
    asked: counting them is the bench's work, not the runner's, so timed runs do not)."""

    def __init__(self, *, count_masks: bool = False) -> None:
        self.bytes = 0
        self.masks = 0
        self._count_masks = count_masks

    async def append_logs(
        self, run_id: Any, chunks: Sequence[Mapping[str, Any]], **_: Any
    ) -> dict[str, Any]:
        for chunk in chunks:
            self.bytes += len(chunk["text"].encode())
            if self._count_masks:
                self.masks += chunk["text"].count("***")
        return {}


def secret_values(count: int, rng: random.Random) -> list[str]:
    """`count` values like real ones: tokens, passwords, one multi-line key."""
    alphabet = string.ascii_letters + string.digits
    values = ["".join(rng.choices(alphabet, k=rng.choice((16, 24, 40)))) for _ in range(count - 1)]
    key_lines = ["".join(rng.choices(alphabet + "+/", k=64)) for _ in range(6)]
    return [*values, "-----BEGIN KEY-----\n" + "\n".join(key_lines) + "\n-----END KEY-----"]


def write_log(path: Path, megabytes: int, secrets: list[str], rng: random.Random) -> int:
    """A build log of ordinary lines, one in 200 printing a secret; its size in bytes."""
    words = ["compiling", "module", "test", "passed", "linking", "ok", "warning:", "src/app.py"]
    lines = []
    size = 0
    while size < megabytes * 1024 * 1024:
        if rng.random() < 0.005:
            line = f"token={rng.choice(secrets)}\n"
        else:
            line = f"[{size:>10}] " + " ".join(rng.choices(words, k=rng.randint(4, 14))) + "\n"
        lines.append(line)
        size += len(line.encode())
    path.write_text("".join(lines))
    return size


async def ship_once(
    log: Path, secrets: list[str], *, count_masks: bool = False
) -> tuple[float, float, Sink]:
    """Seconds from starting the step until its last chunk was shipped, the runner process's
    CPU seconds meanwhile (the step's `cat` not included), and what was sent."""
    sink = Sink(count_masks=count_masks)
    with tempfile.TemporaryDirectory() as parent:
        workspace = Workspace(Path(parent), uuid4().hex)
        # Built before the step starts, as the runner does; its set-up is measured apart.
        shipper = _shipper(sink, secrets)
        started, cpu = time.perf_counter(), time.process_time()
        process = await StepProcess.start(workspace, f"cat {log}\n", {"PATH": "/usr/bin:/bin"})
        while data := await process.read():
            shipper.feed(data)
        await process.wait()
        await shipper.close()
        return time.perf_counter() - started, time.process_time() - cpu, sink


async def ship_from_memory(data: bytes, secrets: list[str]) -> float:
    """Seconds to ship `data` fed in the runner's reads: its own work, no step process."""
    shipper = _shipper(Sink(), secrets)
    started = time.perf_counter()
    for at in range(0, len(data), READ_BYTES):
        shipper.feed(data[at : at + READ_BYTES])
        await asyncio.sleep(0)  # let the shipping task run, as between two reads
    await shipper.close()
    return time.perf_counter() - started


def _shipper(sink: Sink, secrets: list[str]) -> LogShipper:
    return LogShipper(
        sink,  # type: ignore[arg-type]
        run_id=uuid4(),
        step="build",
        job_key="bench",
        first_seq=1,
        traceparent=None,
        chunk_bytes=64 * 1024,
        step_bytes=1 << 40,
        flush_s=0.05,
        secrets=secrets,
    )


async def measure(megabytes: int, secrets: int, rounds: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    values = secret_values(secrets, rng)
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "build.log"
        size = write_log(log, megabytes, values, rng)
        await ship_once(log, [])  # warm the page cache and the interpreter
        plain, masked, plain_cpu, masked_cpu = [], [], [], []
        for _ in range(rounds):  # alternated, so drift hits both alike
            seconds, cpu, _sink = await ship_once(log, [])
            plain.append(size / seconds / 1e6)
            plain_cpu.append(cpu)
            seconds, cpu, _sink = await ship_once(log, values)
            masked.append(size / seconds / 1e6)
            masked_cpu.append(cpu)
        masks = (await ship_once(log, values, count_masks=True))[2].masks
        text = log.read_text()
        data = text.encode()
        alone_plain, alone_masked = [], []
        for _ in range(rounds):
            alone_plain.append(size / await ship_from_memory(data, []) / 1e6)
            alone_masked.append(size / await ship_from_memory(data, values) / 1e6)
    # Set-up for a set of values not compiled before (the same shape, other values), then for
    # the bench's own set again: the runner keeps a set's compiled forms a while.
    started = time.perf_counter()
    LogMasker(secret_values(secrets, random.Random(seed + 1)))
    setup_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    masker = LogMasker(values)
    setup_again_ms = (time.perf_counter() - started) * 1000
    pieces = [data[at : at + READ_BYTES] for at in range(0, len(data), READ_BYTES)]
    started = time.perf_counter()
    for piece in pieces:  # as the runner feeds it: whole-log calls mostly time big allocations
        masker.feed(piece)
    masker.flush()
    alone = len(data) / (time.perf_counter() - started) / 1e6
    ratio = statistics.median(masked) / statistics.median(plain)
    return {
        "bytes": size,
        "plain_mb_s": statistics.median(plain),
        "masked_mb_s": statistics.median(masked),
        "ratio": ratio,
        "masks": masks,
        "cpu_ratio": statistics.median(plain_cpu) / statistics.median(masked_cpu),
        "plain_cpu_ms_per_mb": statistics.median(plain_cpu) * 1e3 / (size / 1e6),
        "masked_cpu_ms_per_mb": statistics.median(masked_cpu) * 1e3 / (size / 1e6),
        "masker_alone_mb_s": alone,
        "memory_plain_mb_s": statistics.median(alone_plain),
        "memory_masked_mb_s": statistics.median(alone_masked),
        "setup_ms": setup_ms,
        "setup_again_ms": setup_again_ms,
        "met": ratio >= TARGET_RATIO,
    }


def run(megabytes: int, secrets: int, rounds: int, seed: int) -> dict[str, Any]:
    return asyncio.run(measure(megabytes, secrets, rounds, seed))
