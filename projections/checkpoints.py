"""A projection's checkpoint row, its live schema, and the advisory locks that guard them."""

from __future__ import annotations

import contextlib
import re
import weakref
from collections.abc import Collection

import asyncpg

from adapters.store.locks import lock_key
from projections.projection import Projection, live_schema

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,49}$")


def check_name(name: str) -> str:
    """The name, if it makes valid unquoted schema names (`rm_<name>__next` fits in 63 bytes)."""
    if not _NAME.match(name) or "__" in name:
        raise ValueError(f"projection name {name!r} must be lower_snake, at most 50 characters")
    return name


def old_schema(name: str) -> str:
    return f"rm_{name}__old"


def owner_key(name: str) -> int:
    return lock_key("projection", name)


def rebuild_key(name: str) -> int:
    return lock_key("projection-rebuild", name)


async def schema_exists(conn: asyncpg.Connection, schema: str) -> bool:
    return await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", schema
    )


async def ensure(conn: asyncpg.Connection, projection: Projection) -> asyncpg.Record:
    """Create the checkpoint row and the live schema if either is missing; return the row."""
    name = check_name(projection.name)
    schema = live_schema(name)
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO projection_checkpoints (name, version, state) VALUES ($1, $2, 'running') "
            "ON CONFLICT (name) DO NOTHING",
            name,
            projection.version,
        )
        # The row lock serialises this with rebuilds and other processes' start-ups.
        row = await conn.fetchrow(
            "SELECT * FROM projection_checkpoints WHERE name = $1 FOR UPDATE", name
        )
        if await schema_exists(conn, schema):
            return row
        await conn.execute(f"CREATE SCHEMA {schema}")
        await conn.execute(projection.ddl(schema))
        return await conn.fetchrow(
            "UPDATE projection_checkpoints SET position = 0, version = $2, updated_at = now() "
            "WHERE name = $1 RETURNING *",
            name,
            projection.version,
        )


async def rebuild_running(conn: asyncpg.Connection, name: str) -> bool:
    """Whether some session holds the projection's rebuild lock right now."""
    key = rebuild_key(name)
    if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", key):
        return True
    await conn.execute("SELECT pg_advisory_unlock($1)", key)
    return False


async def claim(
    conn: asyncpg.Connection, name: str, owner: str, reads: Collection[str] | None = None
) -> asyncpg.Record:
    """Record `owner` as the projection's owner, and the event types it reads (for waiters:
    `projections.reached`), and clear a previous failure; return the row."""
    state = "rebuilding" if await rebuild_running(conn, name) else "running"
    return await conn.fetchrow(
        "UPDATE projection_checkpoints SET owner = $2, state = $3, error = NULL, "
        "error_position = NULL, reads = $4, updated_at = now() WHERE name = $1 RETURNING *",
        name,
        owner,
        state,
        None if reads is None else sorted(reads),
    )


async def advance(
    conn: asyncpg.Connection, name: str, old: int, new: int, *, wait_for_disk: bool = True
) -> bool:
    """Move the checkpoint from `old` to `new`; False if someone (a rebuild's swap) moved it.

    `wait_for_disk=False`: the transaction's commit does not wait for its flush, as `skip`'s.

    No NOTIFY goes with it: every waiter for a position polls `projections.reached`, which
    counts a view past its row anyway. A notifying commit takes PostgreSQL's one notify lock
    for the cluster and holds it through its flush to disk, so every projection's batch
    commit queued behind every append's flush (and theirs behind it) instead of sharing it."""
    moved = await conn.fetchrow(_ADVANCE if wait_for_disk else _SKIP, name, old, new)
    return moved is not None


async def begin_advancing(
    conn: asyncpg.Connection, name: str, old: int, new: int, *, wait_for_disk: bool
) -> bool:
    """BEGIN a transaction and `advance` in it, in one round trip (a simple query of three
    statements); False if the row was not at `old`. The transaction is left open, for the
    caller's writes and its COMMIT or `roll_back` (also after an error here). Not for a
    batch whose writes open savepoints through `conn.transaction()`: asyncpg refuses those in
    a transaction it did not begin."""
    asynchronous = "" if wait_for_disk else "SET LOCAL synchronous_commit = off; "
    # The move prepared once per session: a simple query's statements are planned on every
    # call, and planning the UPDATE was most of the move's work in PostgreSQL.
    prepare = "" if conn in _prepared else _PREPARE_MOVE
    _prepared.add(conn)  # before sending: once it reached the server, it is there to stay
    status = await conn.execute(
        f"{prepare}BEGIN; {asynchronous}EXECUTE flowledger_move_checkpoint("
        f"'{check_name(name)}', {int(old)}, {int(new)})"
    )
    return status == "UPDATE 1"


_prepared: weakref.WeakSet[asyncpg.Connection] = weakref.WeakSet()
"""The sessions that hold `_PREPARE_MOVE`'s statement."""
_PREPARE_MOVE = (
    "PREPARE flowledger_move_checkpoint (text, bigint, bigint) AS UPDATE projection_checkpoints "
    "SET position = $3, updated_at = now() WHERE name = $1 AND position = $2; "
)


async def roll_back(conn: asyncpg.Connection) -> None:
    """End the transaction `begin_advancing` opened, if the link still holds it."""
    if not conn.is_closed() and conn.is_in_transaction():
        with contextlib.suppress(Exception):
            await conn.execute("ROLLBACK")


async def skip(conn: asyncpg.Connection, name: str, old: int, new: int) -> bool:
    """`advance` over events the projection does not read, as a statement of its own whose
    commit does not wait for the disk. A crash may take the move back (within the WAL
    writer's delay): the projection then reads the same events again and again applies
    nothing. A later commit that waits for the disk flushes this one too (the WAL is one
    sequence), so no applied batch ever sits on a lost skip. Every projection skips on
    nearly every commit of the store; each skip waiting for its own flush was a disk wait
    per projection per commit, beside the appends'."""
    moved = await conn.fetchrow(_SKIP, name, old, new)
    return moved is not None


_ADVANCE = (
    "UPDATE projection_checkpoints SET position = $3, updated_at = now() "
    "WHERE name = $1 AND position = $2 RETURNING name"
)
_SKIP = (
    "WITH moved AS (UPDATE projection_checkpoints SET position = $3, updated_at = now() "
    "WHERE name = $1 AND position = $2 RETURNING name) "
    "SELECT name FROM moved, "
    "(SELECT set_config('synchronous_commit', 'off', true)) AS asynchronous_commit"
)


async def mark_failed(
    conn: asyncpg.Connection, projection: Projection, error: str, position: int | None
) -> None:
    """Record why (and at which event, if one) the projection stopped."""
    await conn.execute(
        "INSERT INTO projection_checkpoints (name, version, state, error, error_position) "
        "VALUES ($1, $2, 'failed', $3, $4) ON CONFLICT (name) DO UPDATE SET state = 'failed', "
        "error = excluded.error, error_position = excluded.error_position, updated_at = now()",
        projection.name,
        projection.version,
        error,
        position,
    )


async def release(conn: asyncpg.Connection, name: str, owner: str) -> None:
    """A clean stop: the row says nobody serves it until another process takes it."""
    await conn.execute(
        "UPDATE projection_checkpoints SET state = 'stopped', owner = NULL, updated_at = now() "
        "WHERE name = $1 AND owner = $2 AND state = 'running'",
        name,
        owner,
    )
