"""What a projection is: the tables it owns, the events it reads, and how it applies a batch.

A projection owns one PostgreSQL schema. Its live tables are in `rm_<name>`; a rebuild builds
the same tables in `rm_<name>__next` and the runtime swaps the two schemas in one transaction,
so every SQL statement a projection writes names its tables through the `schema` argument.

A projection may also say `on_error = "stop"`: when one of its handlers raises, the runtime
then stops the whole view at that event (for a view where partial is worse than stale). By
default (`"quarantine"`) it sets that event's stream aside and serves every other stream
(`projections/quarantine.py`).

A process manager (the dispatcher) may also have `async before_batch(events)`: work the
runtime awaits before it opens a batch's transaction, for what must not wait for the
batch's statements. It reads none of the projection's tables and must bear being done again
(a batch that fails is read and offered again); it raises only a lost link (an `OSError`).

A process manager whose `apply` writes nothing through the runtime's connection, only appends
of its own that are idempotent (the webhook intake), may say `writes_elsewhere = True`: its
batches are then applied outside a transaction and its checkpoint moves afterwards in one
statement that does not wait for the disk (`projections/batches.py`). A batch that fails goes
the guarded way, in a transaction, as any projection's does.

A projection may also say `applies_nothing(event) -> bool`: True when, from the event alone,
its `apply` would change none of its rows (a run that deploys nowhere, to the environments
view). A batch of only such events moves its checkpoint in one statement, no transaction.

A projection may name personal fields it never reads, `unread = {event type: fields}` (the
webhook deliveries view, a delivery's body): the projector's shared feed then leaves them
sealed, as stored, when no projection of the process reads them (`unread_by_all`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

import asyncpg

from domain.envelope import EventEnvelope


class Projection(Protocol):
    name: str
    """Stable, lower_snake: `runs`, `pipelines`. Its live schema is `rm_<name>`."""
    version: int
    """Bump when the tables or the handlers change meaning: the runtime then rebuilds it."""
    event_types: frozenset[str]
    """The events it reads; the runtime skips the rest (the checkpoint still moves past them)."""

    def ddl(self, schema: str) -> str:
        """CREATE TABLE / CREATE INDEX statements for its tables inside `schema` (which exists)."""

    async def apply(
        self, conn: asyncpg.Connection, schema: str, events: Sequence[EventEnvelope]
    ) -> None:
        """Apply a batch, in position order, inside the runtime's transaction.

        The same transaction moves the checkpoint, so this must not commit, must not swallow
        errors (a raised error quarantines the event's stream, or stops the view under
        `on_error = "stop"`), and must be deterministic: a rebuild from event 0 must reproduce
        the live tables row for row, however the events fall into batches.
        """


def live_schema(name: str) -> str:
    return f"rm_{name}"


def next_schema(name: str) -> str:
    return f"rm_{name}__next"


def unread_by_all(projections: Iterable[Projection]) -> dict[str, frozenset[str]]:
    """Event type -> the fields of its data that none of `projections` reading it reads (each
    names them in `unread`; one that does not, reads them all)."""
    projections = tuple(projections)
    found: dict[str, frozenset[str]] = {}
    for event_type in frozenset().union(*(p.event_types for p in projections)):
        readers = [p for p in projections if event_type in p.event_types]
        fields = [_unread(p).get(event_type, frozenset()) for p in readers]
        if common := frozenset.intersection(*fields):
            found[event_type] = common
    return found


def _unread(projection: Projection) -> Mapping[str, frozenset[str]]:
    return getattr(projection, "unread", {})
