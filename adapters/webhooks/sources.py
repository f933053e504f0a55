"""Finds the source a delivery names: by id in the event store, by name through its read model."""

from __future__ import annotations

from functools import lru_cache
from uuid import UUID

import asyncpg

from adapters.http.problems import problem
from commands.ports import Repository
from domain.errors import AggregateNotFound
from domain.webhook_source import KINDS, WebhookSource, WebhookSourceStatus
from projections.projection import live_schema
from projections.rows import ident

MAX_REF = 255
"""Longer than any source id or name."""
_BY_NAME = (
    f"SELECT id FROM {ident(live_schema('webhook_sources'))}.webhook_sources "
    "WHERE name = $1 AND kind = $2 ORDER BY id LIMIT 2"
)


async def find_source(
    repository: Repository, pool: asyncpg.Pool, kind: str, ref: str | None
) -> WebhookSource:
    """The enabled source of this kind that `ref` (its id or name) names, else a 404.

    A source unknown, disabled or of another kind gets the same answer: a sender probing
    for sources learns nothing.
    """
    ref = (ref or "").strip()
    # Nothing is named with a NUL or at that length: no need to ask the database (which
    # cannot compare a NUL), and the 404 echoes no more than a name's worth of it.
    if kind not in KINDS or not ref or "\x00" in ref or len(ref) > MAX_REF:
        raise _unknown(kind, ref[:MAX_REF])
    source = await _by_id(repository, ref) or await _by_name(repository, pool, kind, ref)
    if source is None or source.kind != kind or source.status is not WebhookSourceStatus.ENABLED:
        raise _unknown(kind, ref)
    return source


@lru_cache(maxsize=256)
def source_id_in(ref: str) -> UUID | None:
    """The source id `ref` spells, or None for a name. A pure function of the text, kept for
    the few sources that send (every delivery named its source's id: 8 us loaded to parse
    and spell it again)."""
    try:
        source_id = UUID(ref)
    except ValueError:
        return None
    if str(source_id) != ref.lower():
        return None  # 32 bare hex digits: a name (slugs may look like that), not an id
    return source_id


async def _by_id(repository: Repository, ref: str) -> WebhookSource | None:
    source_id = source_id_in(ref)
    if source_id is None:
        return None
    try:
        return await _load(repository, source_id)
    except AggregateNotFound:
        return None  # a slug may also be spelled like a UUID: try it as a name


async def _by_name(
    repository: Repository, pool: asyncpg.Pool, kind: str, name: str
) -> WebhookSource | None:
    # The read model lags the event store a little: a source registered a moment ago
    # is found by id at once, by name once the projector has caught up.
    try:
        rows = await pool.fetch(_BY_NAME, name, kind)
    except asyncpg.UndefinedTableError:
        return None  # the projector has never run here
    if len(rows) > 1:
        raise problem(
            409,
            "ambiguous_source",
            "ambiguous webhook source",
            f"several projects have a {kind} source named {name!r}: use its id in the URL",
        )
    if not rows:
        return None
    try:
        return await _load(repository, rows[0]["id"])
    except AggregateNotFound:
        return None


async def _load(repository: Repository, source_id: UUID) -> WebhookSource:
    """The source as PostgreSQL holds it now, or as kept here if the bus's read guards check
    it (`TakeInWebhookDelivery`). A caching repository shares its kept copy; no delivery rebuilds
    the source from its events. The source is only read here, never changed or saved."""
    return await repository.get_to_read(WebhookSource, source_id)


def _unknown(kind: str, ref: str) -> Exception:
    return problem(
        404, "unknown_source", "unknown webhook source", f"no enabled {kind} source {ref!r}"
    )
