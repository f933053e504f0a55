"""The run timeline: one line per event; consecutive log chunks folded, each burst on its own."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.audit.timeline import timeline
from domain.envelope import EventEnvelope, EventMetadata

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def event(version: int, type_: str, actor: str | None = "runner-1", **data: Any) -> EventEnvelope:
    at = T0 + timedelta(seconds=version)
    return EventEnvelope(
        event_id=uuid.uuid4(),
        position=100 + version,
        stream_id="r",
        stream_type="run",
        version=version,
        type=type_,
        schema_version=1,
        recorded_at=at + timedelta(milliseconds=5),
        data={**data, "occurred_at": at.isoformat()},
        metadata=EventMetadata(actor=actor),
        hash="00",
    )


def chunk(version: int, seq: int, text: str, step: str | None = "build") -> EventEnvelope:
    return event(version, "LogChunkAppended", seq=seq, step=step, stream="stdout", text=text)


def test_bursts_fold_separately_and_the_rest_reads_plainly() -> None:
    lines = list(
        timeline(
            [
                chunk(1, 1, "one\n", step=None),
                chunk(2, 2, "two\n", step=None),
                event(3, "StepSkipped", step="deploy", reason="test failed"),
                chunk(4, 1, "x" * 2000),
                event(5, "LogTruncated", step="build", seq=2, bytes_kept=4096),
                event(6, "RunnerNoticed", actor=None, runner="box-1", labels=["linux"], note=""),
            ]
        )
    )

    assert len(lines) == 5
    assert lines[0].startswith("2026-03-01 12:00:01.000Z  v1-2 ")
    assert '2 chunks, 8 B on run/stdout, seq 1-2: "one"' in lines[0]
    assert "StepSkipped" in lines[1] and "deploy: test failed" in lines[1]
    assert " v4 " in lines[2] and "1 chunk, 2.0 KiB on build/stdout, seq 1-1" in lines[2]
    assert "build log cut at chunk 2, 4.0 KiB kept" in lines[3]
    # An event type this module has no words for: its scalar fields, the actor unknown.
    assert lines[4].split()[3:] == ["-", "RunnerNoticed", "runner=box-1"]
