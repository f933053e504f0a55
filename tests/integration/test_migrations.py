"""The migration runner against every PostgreSQL we can reach: the session's (18) and local 15."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from uuid import uuid4

import asyncpg
import psycopg
import pytest

from adapters.platform.embedded import ServerUrls
from adapters.store.migrations import ChecksumMismatch, MigrationError, available, migrate, pending

LOCAL_PG = "postgresql://postgres@127.0.0.1:5432/postgres"

WIDGETS = {
    "0002_add_colour.sql": "ALTER TABLE widgets ADD COLUMN colour text;\n",
    "0001_widgets.sql": "CREATE TABLE widgets (id integer PRIMARY KEY);\n",
    "0010_seed.sql": "INSERT INTO widgets (id, colour) VALUES (1, 'red');\n",
}
WIDGET_LABELS = ["0001_widgets", "0002_add_colour", "0010_seed"]


def _servers() -> list:
    """The session's server always; the machine's PostgreSQL when it answers (id = its major)."""
    servers = [pytest.param(None, id="session-server")]
    try:
        with psycopg.connect(LOCAL_PG, connect_timeout=2) as conn:
            major = conn.info.server_version // 10000
        servers.append(pytest.param(LOCAL_PG, id=f"local-pg{major}"))
    except psycopg.Error as exc:
        reason = f"no PostgreSQL at {LOCAL_PG}: {exc}".splitlines()[0]
        servers.append(pytest.param(LOCAL_PG, id="local", marks=pytest.mark.skip(reason=reason)))
    return servers


@pytest.fixture(params=_servers())
async def fresh_url(request: pytest.FixtureRequest, server_urls: ServerUrls) -> AsyncIterator[str]:
    """A new empty database on the parametrised server, dropped afterwards."""
    admin_url = request.param or server_urls.database_url
    name = f"flowledger_mig_{uuid4().hex[:10]}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, sql in files.items():
        (directory / name).write_text(sql)
    return directory


async def fetch(url: str, query: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(query)
    finally:
        await conn.close()


async def recorded(url: str) -> list[tuple[int, str, str]]:
    rows = await fetch(
        url, "SELECT version, name, checksum FROM flowledger_schema_migrations ORDER BY version"
    )
    return [tuple(row) for row in rows]


async def test_applies_in_version_order_and_records_each(fresh_url: str, tmp_path: Path) -> None:
    folder = write(tmp_path, WIDGETS)

    assert await migrate(fresh_url, folder) == WIDGET_LABELS

    expected = [(m.version, m.name, m.checksum) for m in available(folder)]
    assert await recorded(fresh_url) == expected
    assert [tuple(r) for r in await fetch(fresh_url, "SELECT id, colour FROM widgets")] == [
        (1, "red")
    ]


async def test_a_second_run_applies_nothing(fresh_url: str, tmp_path: Path) -> None:
    folder = write(tmp_path, WIDGETS)
    await migrate(fresh_url, folder)
    before = await fetch(fresh_url, "SELECT version, applied_at FROM flowledger_schema_migrations")

    assert await migrate(fresh_url, folder) == []

    after = await fetch(fresh_url, "SELECT version, applied_at FROM flowledger_schema_migrations")
    assert after == before


async def test_pending_lists_only_new_files(fresh_url: str, tmp_path: Path) -> None:
    folder = write(tmp_path, WIDGETS)
    conn = await asyncpg.connect(fresh_url)
    try:
        assert await pending(conn, folder) == WIDGET_LABELS  # no table yet: everything
        await migrate(fresh_url, folder)
        write(folder, {"0011_more.sql": "INSERT INTO widgets (id) VALUES (2);"})

        assert await pending(conn, folder) == ["0011_more"]
        assert await migrate(fresh_url, folder) == ["0011_more"]
        assert await pending(conn, folder) == []
    finally:
        await conn.close()


MIGRATE_IN_SUBPROCESS = """
import asyncio, json, sys
from pathlib import Path
from adapters.store.migrations import migrate
print(json.dumps(asyncio.run(migrate(sys.argv[1], Path(sys.argv[2])))))
"""


async def test_two_processes_at_once_apply_each_migration_once(
    fresh_url: str, tmp_path: Path
) -> None:
    # The sleep keeps the first runner inside its lock while the second one arrives.
    slow = {"0001_widgets.sql": "SELECT pg_sleep(1); CREATE TABLE widgets (id integer);"}
    folder = write(tmp_path, {**WIDGETS, **slow})

    async def run() -> list[str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", MIGRATE_IN_SUBPROCESS, fresh_url, str(folder),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, err.decode()
        return json.loads(out)

    first, second = await asyncio.gather(run(), run())

    # The lock is held for the whole run: one process applies everything, the other nothing.
    assert sorted([first, second], key=len) == [[], WIDGET_LABELS]
    assert [r[0] for r in await recorded(fresh_url)] == [1, 2, 10]
    assert (await fetch(fresh_url, "SELECT count(*) FROM widgets"))[0][0] == 1


async def test_an_edited_applied_migration_is_rejected(fresh_url: str, tmp_path: Path) -> None:
    folder = write(tmp_path, WIDGETS)
    await migrate(fresh_url, folder)
    write(folder, {"0002_add_colour.sql": "ALTER TABLE widgets ADD COLUMN color text;\n"})

    with pytest.raises(ChecksumMismatch, match="0002_add_colour"):
        await migrate(fresh_url, folder)
    conn = await asyncpg.connect(fresh_url)
    try:
        with pytest.raises(ChecksumMismatch, match="0002_add_colour"):
            await pending(conn, folder)
    finally:
        await conn.close()


async def test_a_failing_migration_leaves_no_trace(fresh_url: str, tmp_path: Path) -> None:
    broken = "CREATE TABLE gadgets (id integer); INSERT INTO gadgets VALUES (1); SELECT 1/0;"
    folder = write(tmp_path, {"0001_widgets.sql": WIDGETS["0001_widgets.sql"]})
    write(folder, {"0002_gadgets.sql": broken})

    with pytest.raises(MigrationError, match=r"0002_gadgets.*division by zero"):
        await migrate(fresh_url, folder)

    assert [r[0] for r in await recorded(fresh_url)] == [1]  # the one before it stays applied
    assert (await fetch(fresh_url, "SELECT to_regclass('gadgets') IS NULL"))[0][0]
    write(folder, {"0002_gadgets.sql": "CREATE TABLE gadgets (id integer);"})
    assert await migrate(fresh_url, folder) == ["0002_gadgets"]


def test_available_orders_by_version_and_ignores_line_endings(tmp_path: Path) -> None:
    write(tmp_path / "lf", WIDGETS)
    write(tmp_path / "crlf", {k: v.replace("\n", "\r\n") for k, v in WIDGETS.items()})

    assert [m.label for m in available(tmp_path / "lf")] == WIDGET_LABELS
    assert available(tmp_path / "lf") == available(tmp_path / "crlf")


@pytest.mark.parametrize(
    ("files", "complaint"),
    [
        ({"1_short.sql": ""}, "1_short.sql: migration files must be named"),
        ({"0001_Upper.sql": ""}, "0001_Upper.sql"),
        ({"0001_a.sql": "", "0001_b.sql": ""}, "share version 1"),
    ],
)
def test_available_rejects_ambiguous_files(
    tmp_path: Path, files: dict[str, str], complaint: str
) -> None:
    write(tmp_path, files)
    with pytest.raises(MigrationError, match=complaint):
        available(tmp_path)


async def test_the_packaged_migrations_apply(fresh_url: str) -> None:
    labels = [m.label for m in available()]
    assert labels, "adapters/store/migrations/sql holds no migration"

    assert await migrate(fresh_url) == labels
    assert await migrate(fresh_url) == []
