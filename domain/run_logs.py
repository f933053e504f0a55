"""The Run's log: sequence-numbered chunks per channel, size-limited, truncated past a cap."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from eventsourcing.domain import Aggregate

from domain.errors import IllegalTransition, InvalidValue, LogSequenceGap
from domain.limits import LOG_CHUNK_MAX_BYTES
from domain.moments import require_aware
from domain.run_state import RunState
from domain.run_values import LOG_STREAMS, LogStream

LOG_CHUNK_MAX = LOG_CHUNK_MAX_BYTES
LOG_RUN_MAX = 16 * 1024 * 1024


class LogCommands:
    """Mixed into Run: its log's commands and events."""

    class LogChunkAppended(Aggregate.Event):
        event_type: ClassVar[str] = "LogChunkAppended"
        seq: int
        step: str | None
        stream: LogStream
        text: str

        def apply(self, aggregate: RunState) -> None:
            aggregate.log_seqs[self.step] = self.seq
            aggregate.log_bytes += len(self.text.encode())

    class LogTruncated(Aggregate.Event):
        """Chunk `seq` of channel `step` was the first dropped; every later chunk is too."""

        event_type: ClassVar[str] = "LogTruncated"
        step: str | None
        seq: int
        bytes_kept: int

        def apply(self, aggregate: RunState) -> None:
            aggregate.log_truncated = True

    def next_log_seq(self: RunState, step: str | None = None) -> int:
        return self.log_seqs.get(step, 0) + 1

    def append_log(
        self: RunState, *, seq: int, step: str | None, stream: LogStream, text: str, at: datetime
    ) -> None:
        """Append chunk `seq` of a channel; one already appended (or dropped) decides nothing."""
        require_aware(at)
        if stream not in LOG_STREAMS:
            raise InvalidValue("stream", f"one of {', '.join(sorted(LOG_STREAMS))}")
        try:
            size = len(text.encode())
        except UnicodeEncodeError:
            raise InvalidValue("text", "must be valid Unicode") from None
        if not 0 < size <= LOG_CHUNK_MAX:
            raise InvalidValue("text", f"1 to {LOG_CHUNK_MAX} bytes of UTF-8")
        if seq < 1:
            raise InvalidValue("seq", "must be >= 1")
        if step is not None:
            self._step(step)
        if self.status.finished:
            raise IllegalTransition("run", self.status.value, "append a log to")
        expected = self.next_log_seq(step)
        if seq < expected or self.log_truncated:
            return
        if seq > expected:
            raise LogSequenceGap(step, expected, seq)
        if self.log_bytes + size > LOG_RUN_MAX:
            self.trigger_event(
                self.LogTruncated, step=step, seq=seq, bytes_kept=self.log_bytes, timestamp=at
            )
        else:
            self.trigger_event(
                self.LogChunkAppended, seq=seq, step=step, stream=stream, text=text, timestamp=at
            )
