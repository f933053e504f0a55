"""The keeper of embedded servers, on real child processes: a killed server is reaped and
started again on its port and data; a crash loop or a lost data folder is given up with why."""

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import asyncpg
import psutil

from adapters.platform.embedded import EmbeddedNats, EmbeddedPostgres, Keeper


def until(condition: Callable[[], bool], within_s: float = 30) -> bool:
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def reaped(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_DEAD
    except psutil.NoSuchProcess:
        return True


async def test_a_killed_postgres_comes_back_on_its_port_with_its_data(server_dir: Path) -> None:
    postgres = EmbeddedPostgres(server_dir)
    url = postgres.start()
    keeper = Keeper([("PostgreSQL", postgres)])
    keeper.start()
    try:
        conn = await asyncpg.connect(url)
        await conn.execute("CREATE TABLE kept (note text); INSERT INTO kept VALUES ('hello')")
        await conn.close()
        killed = postgres.pid
        assert killed is not None
        os.kill(killed, signal.SIGKILL)
        assert until(lambda: postgres.pid not in (None, killed) and postgres.url is not None)
        assert reaped(killed)
        assert postgres.url == url, "the URL every pool holds must stay valid"
        conn = await asyncpg.connect(url)
        assert await conn.fetchval("SELECT note FROM kept") == "hello"
        await conn.close()
        assert (keeper.restarts, keeper.failure) == (1, None)
    finally:
        keeper.close()
        postgres.stop()


def test_a_killed_nats_comes_back_on_its_port(server_dir: Path) -> None:
    server = EmbeddedNats(server_dir)
    url = server.start()
    keeper = Keeper([("NATS", server)])
    keeper.start()
    try:
        killed = server.pid
        assert killed is not None
        os.kill(killed, signal.SIGKILL)
        assert until(lambda: server.pid not in (None, killed) and server.url is not None)
        assert server.url == url
        assert reaped(killed)
    finally:
        keeper.close()
        server.stop()


def test_a_lost_store_is_given_up_with_the_reason(server_dir: Path) -> None:
    server = EmbeddedNats(server_dir)
    server.start()
    keeper = Keeper([("NATS", server)])
    keeper.start()
    try:
        server.stop()
        os.rename(server.store_dir, server_dir / "elsewhere")
        assert until(lambda: keeper.failure is not None)
        assert "is gone" in (keeper.failure or "") and str(server.store_dir) in (
            keeper.failure or ""
        )
        assert server.pid is None, "nothing was started on an empty store"
    finally:
        keeper.close()
        server.stop()


def test_a_crash_loop_is_given_up(server_dir: Path) -> None:
    server = EmbeddedNats(server_dir)
    server.start()
    keeper = Keeper([("NATS", server)], crash_limit=2)
    keeper.start()
    try:
        for _ in range(3):
            assert until(lambda: server.url is not None)  # started (again)
            pid = server.pid
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            assert until(lambda pid=pid: server.pid != pid or keeper.failure is not None)
        assert until(lambda: keeper.failure is not None)
        assert "died 3 times" in (keeper.failure or "")
    finally:
        keeper.close()
        server.stop()
