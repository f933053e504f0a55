"""The subject-key reads of concurrent appends, taken together: one query for many subjects.

Every append that seals something (each webhook delivery: its body belongs to its pusher)
reads its subject's wrapped key and notes the subject's handles first: a round trip of its own
per request, a pool acquire and a statement each, for a row that nearly always exists. Here
the reads asked for meanwhile wait while a few queries are out, then go as one; many requests
of one person share one read of the key.

No read is answered from a query sent before it was asked for (`read_batches.py`): a subject
erased by another process has no key for the next append. Keys are never kept past the answer.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from adapters.store.read_batches import ReadBatches

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


class KeyReads:
    """`read(subject, handles)`: the subject's wrapped key or None, its handles noted if kept."""

    def __init__(self, pool: asyncpg.Pool, *, max_in_flight: int = 2) -> None:
        self.pool = pool
        self._batches: ReadBatches[tuple[str, Sequence[str]], str | None] = ReadBatches(
            self._read_all, max_in_flight=max_in_flight
        )

    @property
    def queries(self) -> int:
        """How many queries answered reads (a test's and a bench's figure)."""
        return self._batches.queries

    async def read(self, subject: str, handles: Sequence[str]) -> str | None:
        return await self._batches.read((subject, handles))

    async def _read_all(self, asks: Sequence[tuple[str, Sequence[str]]]) -> list[str | None]:
        subjects = list(dict.fromkeys(subject for subject, _ in asks))
        # One row per handle: the first subject asking for it, as the first insert would.
        noted: dict[str, str] = {}
        for subject, handles in asks:
            for handle in handles:
                noted.setdefault(handle, subject)
        rows = await self.pool.fetch(
            _KEYS_NOTING_HANDLES, subjects, list(noted), list(noted.values())
        )
        kept = {row["subject_id"]: row["wrapped_key"] for row in rows}
        return [kept.get(subject) for subject, _ in asks]
