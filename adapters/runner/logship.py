"""Ships one step attempt's output to the API: batched, size-capped, numbered, retried in order.

Output waits at most `flush_s` before its POST starts. Chunks are numbered in the step's log
channel from the job's first seq, and a failed POST is retried with the same numbers (and the
same Idempotency-Key), so the API appends each chunk once and in order. Past the per-step cap,
output is counted, not kept, and one `system` chunk records how much was dropped. The attempt's
secret values are masked first (`masking.LogMasker`): nothing unmasked is ever queued.
"""

from __future__ import annotations

import asyncio
import codecs
import logging
from collections.abc import Iterable
from typing import Any, Literal
from uuid import UUID

from adapters.runner.api import ApiError, ApiUnavailable, RunnerApi
from adapters.runner.masking import LogMasker

log = logging.getLogger(__name__)

Stream = Literal["stdout", "system"]
POST_TEXT_BYTES = 96 * 1024
"""Text per POST: JSON escaping may grow it, and the API caps request bodies (1 MiB default)."""
POST_CHUNKS = 16
RETRY_FOR_S = 30.0
UNAVAILABLE_PAUSE_S = 1.0
OUTPUT: Stream = "stdout"
"""The step's stdout and stderr share one pipe (order kept), so their chunks say `stdout`."""


def split_utf8(text: str, limit: int) -> list[str]:
    """`text` in pieces of at most `limit` UTF-8 bytes, cut after a newline where one is near."""
    data = text.encode()
    pieces = []
    while len(data) > limit:
        cut = limit
        while data[cut] & 0xC0 == 0x80:  # never inside a character
            cut -= 1
        newline = data.rfind(b"\n", 0, cut)
        if newline >= limit // 2:
            cut = newline + 1
        pieces.append(data[:cut].decode())
        data = data[cut:]
    if data:
        pieces.append(data.decode())
    return pieces


class LogShipper:
    def __init__(
        self,
        api: RunnerApi,
        *,
        run_id: UUID,
        step: str,
        job_key: str,
        first_seq: int,
        traceparent: str | None,
        chunk_bytes: int,
        step_bytes: int,
        flush_s: float,
        secrets: Iterable[str] = (),
    ) -> None:
        self._api = api
        self._run_id, self._step, self._job_key = run_id, step, job_key
        self._traceparent = traceparent
        self._chunk_bytes, self._step_bytes, self._flush_s = chunk_bytes, step_bytes, flush_s
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._masker = LogMasker(secrets)
        # A chunk counts as full a held-back tail short of `chunk_bytes`: the masker nearly
        # always holds back a few bytes (a piece's last byte often starts some form), and
        # waiting to fill those few bytes cost masked logs a third of their throughput.
        self._full_bytes = max(chunk_bytes - self._masker.hold_max, 1)
        self._pending: list[tuple[Stream, str]] = []
        self._pending_bytes = 0
        self._first_pending_at: float | None = None
        self._unsent: list[dict[str, Any]] = []
        self._next_seq = first_seq
        self._wake = asyncio.Event()
        self._closing = False
        self._clock = asyncio.get_running_loop().time
        self.kept_bytes = 0
        self.dropped_bytes = 0
        self.gave_up: str | None = None
        """Why shipping stopped early (the run ended, or the API refused a chunk)."""
        self._task = asyncio.create_task(self._ship(), name=f"logs-{step}")

    def feed(self, data: bytes) -> None:
        """Raw output bytes as the process wrote them (split characters are joined later)."""
        self._add(OUTPUT, self._decoder.decode(self._masker.feed(data)), capped=True)

    def note(self, text: str) -> None:
        """A line from the runner itself (timeout, cancel, truncation): always kept."""
        self._add("system", self._masker.mask(f"[flowledger] {text}\n"), capped=False)

    def mask(self, text: str) -> str:
        """`text` (an output's value, say) with the attempt's secret values masked."""
        return self._masker.mask(text)

    async def close(self) -> None:
        """Send everything left (and the truncation note), then stop."""
        self._add(OUTPUT, self._decoder.decode(self._masker.flush(), final=True), capped=True)
        if self.dropped_bytes:
            self.note(
                f"output truncated: {self.dropped_bytes} bytes past the "
                f"{self._step_bytes}-byte limit per step were not kept"
            )
        self._closing = True
        self._wake.set()
        await self._task

    def _add(self, stream: Stream, text: str, *, capped: bool) -> None:
        if not text:
            return
        # PostgreSQL text cannot hold NUL; a step printing one must not break the log.
        text = text.replace("\x00", "\ufffd")
        size = len(text.encode())
        if capped:
            room = self._step_bytes - self.kept_bytes
            if size > room:
                kept = text.encode()[: max(room, 0)].decode(errors="ignore")
                self.dropped_bytes += size - len(kept.encode())
                text, size = kept, len(kept.encode())
                if not text:
                    return
            self.kept_bytes += size
        if self._pending and self._pending[-1][0] == stream:
            self._pending[-1] = (stream, self._pending[-1][1] + text)
        else:
            self._pending.append((stream, text))
        self._pending_bytes += size
        if self._first_pending_at is None:
            self._first_pending_at = self._clock()
        self._wake.set()

    async def _ship(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            # Output gathers for flush_s after its first byte, unless a chunk is full or closing.
            while self._pending and not self._closing and self._pending_bytes < self._full_bytes:
                wait = self._first_pending_at + self._flush_s - self._clock()  # type: ignore[operator]
                if wait <= 0:
                    break
                try:
                    await asyncio.wait_for(self._wake.wait(), wait)
                except TimeoutError:
                    break
                self._wake.clear()
            self._cut_chunks()
            while self._unsent and self.gave_up is None:
                await self._post_some()
            self._unsent.clear()
            if self._closing and not self._pending:
                return
            if self._pending:
                self._wake.set()

    def _cut_chunks(self) -> None:
        for stream, text in self._pending:
            for piece in split_utf8(text, self._chunk_bytes):
                self._unsent.append(
                    {"seq": self._next_seq, "step": self._step, "stream": stream, "text": piece}
                )
                self._next_seq += 1
        self._pending.clear()
        self._pending_bytes = 0
        self._first_pending_at = None

    async def _post_some(self) -> None:
        batch, size = [], 0
        for chunk in self._unsent:
            grown = size + len(chunk["text"].encode())
            if batch and (len(batch) >= POST_CHUNKS or grown > POST_TEXT_BYTES):
                break
            batch.append(chunk)
            size = grown
        try:
            await self._api.append_logs(
                self._run_id,
                batch,
                # Both ends: a retry may carry more chunks than the try it repeats.
                key=f"{self._job_key}:logs:{batch[0]['seq']}-{batch[-1]['seq']}",
                traceparent=self._traceparent,
                retry_for_s=RETRY_FOR_S,
            )
        except ApiUnavailable as exc:
            # Never skip ahead: a later chunk would leave a gap the API refuses.
            log.warning("logs of %s/%s not sent yet: %s", self._run_id, self._step, exc)
            await asyncio.sleep(UNAVAILABLE_PAUSE_S)
            return
        except ApiError as exc:
            self.gave_up = str(exc)
            log.warning("logs of %s/%s no longer sent: %s", self._run_id, self._step, exc)
            return
        del self._unsent[: len(batch)]
