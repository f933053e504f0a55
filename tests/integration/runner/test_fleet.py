"""Several runners on one label: each attempt runs once, and no runner exceeds its concurrency."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from tests.integration.runner.stack import Stack, runners

RUNS = 12
MARK = (
    'echo "$FLOWLEDGER_RUNNER_ID start $(date +%s%N)" >> {shared}/spans\n'
    'echo "$FLOWLEDGER_RUN_ID/$FLOWLEDGER_STEP/$FLOWLEDGER_ATTEMPT" >> {shared}/attempts\n'
    "sleep 0.1\n"
    'echo "$FLOWLEDGER_RUNNER_ID end $(date +%s%N)" >> {shared}/spans\n'
)


def most_at_once(spans: list[tuple[str, str, int]]) -> dict[str, int]:
    """Per runner, the largest number of its steps that were between start and end together."""
    peak: dict[str, int] = {}
    now: Counter[str] = Counter()
    # At equal times an end comes first: a slot freed and taken in one instant is not overlap.
    for runner, edge, _ in sorted(spans, key=lambda s: (s[2], s[1] == "start")):
        now[runner] += 1 if edge == "start" else -1
        peak[runner] = max(peak.get(runner, 0), now[runner])
    return peak


async def test_two_runners_run_every_attempt_exactly_once_within_their_concurrency(
    stack: Stack, label: str, shared: Path
) -> None:
    mark = MARK.format(shared=shared)
    pipeline = await stack.pipeline(
        [{"name": name, "run": mark, "labels": [label]} for name in ("one", "two")]
    )
    configs = [stack.runner_config(label, concurrency=3) for _ in range(2)]
    async with runners(*configs) as fleet:
        run_ids = [await stack.trigger(pipeline) for _ in range(RUNS)]
        outcomes = await asyncio.gather(*(stack.finished(r) for r in run_ids))
        assert set(outcomes) == {"RunSucceeded"}
        ids = {str(r.runner_id) for r in fleet}

    attempts = Counter((shared / "attempts").read_text().split())
    assert attempts == Counter(f"{r}/{s}/1" for r in run_ids for s in ("one", "two"))
    lines = (shared / "spans").read_text().splitlines()
    spans = [(runner, edge, int(ns)) for runner, edge, ns in (line.split() for line in lines)]
    assert {runner for runner, _, _ in spans} <= ids
    assert all(peak <= 3 for peak in most_at_once(spans).values())
    # What each runner reported is what ran where: the recorded runner of every start.
    for run_id in run_ids:
        started = [d["runner"] for _, t, d in await stack.events(run_id) if t == "StepStarted"]
        assert len(started) == 2 and set(started) <= ids


async def test_output_past_the_step_cap_is_dropped_and_the_truncation_recorded(
    stack: Stack, label: str
) -> None:
    chatty = "head -c 20000 /dev/zero | tr '\\0' 'x'\necho"
    pipeline = await stack.pipeline([{"name": "chatty", "run": chatty, "labels": [label]}])
    async with runners(stack.runner_config(label, log_step_bytes=4096, log_chunk_bytes=1024)):
        run_id = await stack.trigger(pipeline)
        assert await stack.finished(run_id) == "RunSucceeded"

    events = await stack.events(run_id)
    chunks = [d for _, t, d in events if t == "LogChunkAppended"]
    kept = "".join(c["text"] for c in chunks if c["stream"] == "stdout")
    assert kept == "x" * 4096
    assert all(len(c["text"].encode()) <= 1024 for c in chunks)
    note = [c["text"] for c in chunks if c["stream"] == "system"]
    assert note == ["[flowledger] output truncated: 15905 bytes past the 4096-byte limit per step "
                    "were not kept\n"]  # fmt: skip
    metrics = next(d for _, t, d in events if t == "StepSucceeded")["metrics"]
    assert (metrics["log_bytes"], metrics["log_bytes_dropped"]) == (4096.0, 15905.0)
