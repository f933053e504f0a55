"""Versioned SQL migrations: find `sql/NNNN_name.sql` files and apply the pending ones in order."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import asyncpg
import msgspec

DEFAULT_DIRECTORY = Path(__file__).parent / "sql"
TABLE = "flowledger_schema_migrations"
# Any fixed 64-bit key works; every flowledger process must use the same one so that
# concurrent `migrate` runs queue up behind each other instead of racing.
LOCK_KEY = 0x666C6F776C6467  # "flowldg"

_FILENAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")

_CREATE_TABLE = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


class MigrationError(RuntimeError):
    """A migration could not be found, verified or applied."""


class ChecksumMismatch(MigrationError):
    """An already-applied migration file was edited afterwards."""


class Migration(msgspec.Struct, frozen=True, kw_only=True):
    version: int
    name: str
    sql: str
    checksum: str

    @property
    def label(self) -> str:
        """The file's stem, e.g. `0001_event_store`: how migrations are named to people."""
        return f"{self.version:04d}_{self.name}"


def available(directory: Path | None = None) -> list[Migration]:
    """Every migration in `directory` (default: the packaged `sql/`), ordered by version."""
    folder = DEFAULT_DIRECTORY if directory is None else Path(directory)
    found: dict[int, Migration] = {}
    for path in sorted(folder.glob("*.sql")):
        match = _FILENAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: migration files must be named NNNN_lower_name.sql")
        # Line endings are normalised so a Windows checkout does not look like an edit.
        sql = path.read_bytes().decode("utf-8").replace("\r\n", "\n")
        migration = Migration(
            version=int(match["version"]),
            name=match["name"],
            sql=sql,
            checksum=hashlib.sha256(sql.encode()).hexdigest(),
        )
        if migration.version in found:
            other = found[migration.version].label
            raise MigrationError(f"{migration.label} and {other} share version {migration.version}")
        found[migration.version] = migration
    return [found[version] for version in sorted(found)]


async def pending(
    conn: asyncpg.Connection | asyncpg.Pool, directory: Path | None = None
) -> list[str]:
    """Labels of the migrations not yet applied; raises ChecksumMismatch if one was edited."""
    return [m.label for m in await _unapplied(conn, available(directory))]


async def migrate(database_url: str, directory: Path | None = None) -> list[str]:
    """Apply every pending migration, each in its own transaction; return the labels applied."""
    migrations = available(directory)
    conn = await asyncpg.connect(database_url)
    try:
        # A session-level lock: closing the connection (or losing it) releases it.
        await conn.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
        await conn.execute(_CREATE_TABLE)
        applied = []
        for migration in await _unapplied(conn, migrations):
            await _apply(conn, migration)
            applied.append(migration.label)
        return applied
    finally:
        await conn.close()


async def _unapplied(
    conn: asyncpg.Connection | asyncpg.Pool, migrations: list[Migration]
) -> list[Migration]:
    if await conn.fetchval("SELECT to_regclass($1) IS NULL", TABLE):
        return migrations
    rows = await conn.fetch(f"SELECT version, checksum FROM {TABLE}")
    recorded = {row["version"]: row["checksum"] for row in rows}
    for migration in migrations:
        checksum = recorded.get(migration.version)
        if checksum is not None and checksum != migration.checksum:
            raise ChecksumMismatch(
                f"migration {migration.label} was changed after it was applied "
                f"(recorded checksum {checksum[:12]}…, file has {migration.checksum[:12]}…); "
                "add a new migration instead of editing an applied one"
            )
    return [m for m in migrations if m.version not in recorded]


async def _apply(conn: asyncpg.Connection, migration: Migration) -> None:
    try:
        async with conn.transaction():
            # No arguments: asyncpg uses the simple query protocol, which runs a whole
            # multi-statement script.
            await conn.execute(migration.sql)
            await conn.execute(
                f"INSERT INTO {TABLE} (version, name, checksum) VALUES ($1, $2, $3)",
                migration.version,
                migration.name,
                migration.checksum,
            )
    except asyncpg.PostgresError as exc:
        message = f"migration {migration.label} failed and was rolled back: {exc}"
        raise MigrationError(message) from exc
