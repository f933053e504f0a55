"""A data subject's erasure reaches the runs view at once: the runs it triggered show `[erased]`.

The view copied the actor's name in clear when it applied the run's request (the reader opened
it); when `DataSubjectErased` arrives it blanks the runs whose request held a value sealed
under that subject, before the erasure. A rebuild reaches the same rows by itself (the reader
then shows the value erased), so live and rebuilt views agree.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from adapters.store.reader import streams_sealed_for
from domain.envelope import EventEnvelope
from domain.personal import ERASED
from projections.rows import ident

ERASURE = "DataSubjectErased"


async def erase_actors(
    conn: asyncpg.Connection, schema: str, events: Sequence[EventEnvelope]
) -> None:
    for event in events:
        if event.type != ERASURE:
            continue
        runs = await streams_sealed_for(
            conn, event.data["subject_id"], "RunRequested", before=event.position
        )
        if runs:
            await conn.execute(
                f"UPDATE {ident(schema)}.runs SET actor = $1 WHERE id = ANY($2::uuid[])",
                ERASED,
                runs,
            )
