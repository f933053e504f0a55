"""Embedded PostgreSQL and NATS as real child processes: persistence, locking, pass-through."""

import os
import signal
from pathlib import Path

import asyncpg
import nats
import psutil
import pytest

from adapters.platform.embedded import (
    DataDirInUse,
    DataDirLock,
    EmbeddedNats,
    EmbeddedPostgres,
    embedded_servers,
)
from adapters.platform.settings import Settings


def children() -> set[psutil.Process]:
    return set(psutil.Process().children(recursive=True))


@pytest.fixture
def started_here():
    """Returns the child processes started since the test began (session servers excluded)."""
    before = children()
    return lambda: children() - before


async def test_postgres_data_survives_a_restart_and_a_crash(server_dir: Path, started_here) -> None:
    postgres = EmbeddedPostgres(server_dir)
    conn = await asyncpg.connect(postgres.start())
    await conn.execute("CREATE TABLE kept (note text); INSERT INTO kept VALUES ('hello')")
    await conn.close()
    postgres.stop()
    assert started_here() == set()

    url = postgres.start()
    conn = await asyncpg.connect(url)
    assert await conn.fetchval("SELECT note FROM kept") == "hello"
    await conn.execute("INSERT INTO kept VALUES ('committed before the crash')")
    await conn.close()
    # A SIGKILLed postmaster leaves a stale postmaster.pid behind; the next start copes.
    postmaster = psutil.Process(
        int((server_dir / "postgres" / "postmaster.pid").read_text().split()[0])
    )
    postmaster.send_signal(signal.SIGKILL)
    postmaster.wait(5)
    postgres.stop()
    psutil.wait_procs(started_here(), timeout=10)

    restarted = EmbeddedPostgres(server_dir)
    conn = await asyncpg.connect(restarted.start())
    try:
        assert await conn.fetchval("SELECT count(*) FROM kept") == 2
    finally:
        await conn.close()
        restarted.stop()


async def test_embedded_servers_start_both_and_lock_the_data_dir(
    server_dir: Path, started_here
) -> None:
    settings = Settings(data_dir=server_dir)
    with embedded_servers(settings, log=lambda _: None) as urls:
        conn = await asyncpg.connect(urls.database_url)
        assert await conn.fetchval("SELECT current_database()") == "flowledger"
        await conn.close()

        with pytest.raises(DataDirInUse) as caught, embedded_servers(settings):
            pass
        assert str(server_dir) in str(caught.value)
        assert f"pid {os.getpid()}" in str(caught.value)

    assert started_here() == set()


async def test_nats_starts_with_jetstream_and_stops(server_dir: Path, started_here) -> None:
    server = EmbeddedNats(server_dir)
    nc = await nats.connect(server.start())
    try:
        info = await nc.jetstream().account_info()
        assert info.limits is not None
    finally:
        await nc.close()
        server.stop()

    assert started_here() == set()
    assert (server_dir / "nats" / "jetstream").is_dir()


def test_given_urls_start_nothing(server_dir: Path, started_here) -> None:
    settings = Settings(
        database_url="postgresql://app@db.invalid/flowledger",
        nats_url="nats://nats.invalid:4222",
        data_dir=server_dir / "data",
    )

    with embedded_servers(settings, log=lambda _: None) as urls:
        assert (urls.database_url, urls.nats_url) == (settings.database_url, settings.nats_url)
        assert started_here() == set()
        assert not settings.data_dir.exists()


def test_a_lock_left_by_a_dead_process_is_taken_over(server_dir: Path) -> None:
    (server_dir / "flowledger.lock").write_text("999999\n")
    lock = DataDirLock(server_dir)

    lock.acquire()
    try:
        assert (server_dir / "flowledger.lock").read_text() == f"{os.getpid()}\n"
    finally:
        lock.release()
