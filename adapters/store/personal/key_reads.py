"""The subject-key reads of concurrent appends, taken together: one query for many subjects.

Every append that seals something (each webhook delivery: its body belongs to its pusher)
reads its subject's wrapped key and notes the subject's handles first: a round trip of its own
per request, a pool acquire and a statement each, for a row that nearly always exists. Here
the reads asked for meanwhile wait while a few queries are out, then go as one; many requests
of one person share one read of the key.

No read is answered from a query sent before it was asked for: a batch is closed when its
query is sent, and what is asked for later waits for the next. So a read sees every commit
that came before it was asked for, as a query of its own would (a subject erased by another
process has no key for the next append). Keys are never kept past the answer.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Collection, Sequence

import asyncpg

# Each subject's wrapped key, if kept, and the handles of kept subjects noted (a handle already
# noted, for this subject or another, stays as it is): `keys._KEY_NOTING_HANDLES` for many.
_KEYS_NOTING_HANDLES = """
WITH kept AS (
    SELECT subject_id, wrapped_key FROM data_subject_keys WHERE subject_id = ANY($1::text[])
),
noted AS (
    INSERT INTO data_subject_handles (handle, subject_id)
    SELECT h.handle, h.subject_id FROM unnest($2::text[], $3::text[]) AS h(handle, subject_id)
    WHERE h.subject_id IN (SELECT subject_id FROM kept)
    ON CONFLICT (handle) DO NOTHING
)
SELECT subject_id, wrapped_key FROM kept
"""

_Wanted = tuple[str, Sequence[str], asyncio.Future[str | None]]


class KeyReads:
    """`read(subject, handles)`: the subject's wrapped key or None, its handles noted if kept."""

    def __init__(self, pool: asyncpg.Pool, *, max_in_flight: int = 2) -> None:
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be 1 or more, got {max_in_flight}")
        self.pool = pool
        self._max_in_flight = max_in_flight
        self._waiting: list[_Wanted] = []
        self._in_flight = 0
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.queries = 0
        """How many queries answered reads (a test's and a bench's figure)."""

    async def read(self, subject: str, handles: Sequence[str]) -> str | None:
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._waiting.append((subject, handles, future))
        self._schedule()
        return await future

    def _schedule(self) -> None:
        if self._waiting and not self._scheduled and self._in_flight < self._max_in_flight:
            self._scheduled = True
            # On the next turn of the loop, so that reads asked for in this one go along. Run
            # in a context of its own: no request's span or request id is the batch's.
            asyncio.get_running_loop().call_soon(self._send, context=contextvars.Context())

    def _send(self) -> None:
        self._scheduled = False
        batch = [wanted for wanted in self._waiting if not wanted[2].done()]
        self._waiting = []
        if not batch:
            return
        self._in_flight += 1
        task = asyncio.get_running_loop().create_task(self._answer(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, batch: Collection[_Wanted]) -> None:
        try:
            subjects = list(dict.fromkeys(subject for subject, _, _ in batch))
            # One row per handle: the first subject asking for it, as the first insert would.
            noted: dict[str, str] = {}
            for subject, handles, _ in batch:
                for handle in handles:
                    noted.setdefault(handle, subject)
            self.queries += 1
            rows = await self.pool.fetch(
                _KEYS_NOTING_HANDLES, subjects, list(noted), list(noted.values())
            )
        except Exception as error:  # each reader gets it, as from a query of its own
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        except BaseException:
            for _, _, future in batch:
                future.cancel()
            raise
        finally:
            self._in_flight -= 1
            self._schedule()
        kept = {row["subject_id"]: row["wrapped_key"] for row in rows}
        for subject, _, future in batch:
            if not future.done():
                future.set_result(kept.get(subject))
