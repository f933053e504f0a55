"""A running `up` under a steady command load while its servers are killed, and the audit
afterwards: every acknowledged write exactly once in the store, the view and JetStream."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import nats
from nats.errors import TimeoutError as NatsTimeout

from adapters.streaming.relay.config import RelayConfig
from adapters.streaming.relay.message import MSG_ID
from projections.catalog import ALL
from projections.reached import reached

WRITE_DEADLINE_S = 60.0
"""One write is retried this long (the servers come back well within it)."""


def start_up(
    workdir: Path, data_dir: Path, port: int, log: Path, **settings: str
) -> subprocess.Popen[bytes]:
    """`flowledger up` on `data_dir`, with no rate limit (the load is one steady client), and
    `settings` (e.g. FLOWLEDGER_LOG_LEVEL="WARNING")."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWLEDGER_")}
    env |= {
        "FLOWLEDGER_DATA_DIR": str(data_dir),
        "FLOWLEDGER_PORT": str(port),
        "FLOWLEDGER_RATE_LIMIT_PER_KEY": "0",
        "FLOWLEDGER_RATE_LIMIT_PER_ADDRESS": "0",
        **settings,
    }
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "adapters.cli.main", "up"],
            cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


def admin_key(log: Path) -> str:
    match = re.search(r"X-API-Key: (\S+)", log.read_text())
    assert match, log.read_text()
    return match.group(1)


def nats_url(log: Path) -> str:
    match = re.search(r"nats\s+(nats://\S+)", log.read_text())
    assert match, log.read_text()
    return match.group(1)


def server_pid(data_dir: Path, binary: str) -> int:
    """The pid of the embedded server (`postgres` or `nats-server`) using `data_dir`."""
    needle = str(data_dir).encode()
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if entry.name.isdigit() and needle in b" ".join(argv) and argv[0].endswith(binary.encode()):
            return int(entry.name)
    raise LookupError(f"no {binary} under {data_dir}")


def is_gone(pid: int) -> bool:
    """True once `pid` is neither running nor a zombie (reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "X"
    except OSError:
        return True


@dataclass
class Load:
    """`clients` threads, each creating projects one after another, each with its
    Idempotency-Key and retried until 201."""

    base_url: str
    key: str
    clients: int = 4
    prefix: str = field(default_factory=lambda: f"heal-{uuid.uuid4().hex[:8]}")
    acked: dict[str, str] = field(default_factory=dict)
    """Project name -> the id its 201 answered."""
    retries: int = 0
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for client in range(self.clients):
            thread = threading.Thread(target=self._run, args=(client,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop after the writes in flight are acknowledged (or given up)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(WRITE_DEADLINE_S + 10)

    def wait_for(self, count: int, within_s: float) -> None:
        deadline = time.monotonic() + within_s
        while len(self.acked) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(self.acked) >= count, f"{len(self.acked)} writes acknowledged: {self.failures}"

    def _run(self, client_no: int) -> None:
        headers = {"X-API-Key": self.key}
        with httpx.Client(base_url=self.base_url, headers=headers, timeout=10) as client:
            n = 0
            while not self._stop.is_set():
                n += 1
                self._write(client, f"{self.prefix}-{client_no}-{n}")

    def _write(self, client: httpx.Client, name: str) -> None:
        body = {"name": name, "slug": name}
        idempotency = {"Idempotency-Key": f"{name}-key"}
        deadline = time.monotonic() + WRITE_DEADLINE_S
        while time.monotonic() < deadline:
            try:
                answer = client.post("/api/v1/projects", json=body, headers=idempotency)
            except httpx.HTTPError:
                answer = None
            if answer is not None and answer.status_code == 201:
                self.acked[name] = answer.json()["id"]
                return
            if answer is not None and answer.status_code < 500:
                self.failures.append(f"{name}: {answer.status_code} {answer.text}")
                return
            self.retries += 1
            time.sleep(0.2)
        self.failures.append(f"{name}: no answer within {WRITE_DEADLINE_S:g}s")


@dataclass(frozen=True)
class Audit:
    acknowledged: int
    found: int
    """Acknowledged writes whose ProjectCreated is in the store."""
    duplicated: int
    """Projects created more than once for one name, or created and never acknowledged."""
    view_rows: int
    stream_missing: int
    """Events of the store not on the relay's JetStream stream."""
    stream_duplicated: int


async def caught_up(database_url: str, within_s: float) -> bool:
    """Wait until every view and the relay have reached the head of the store."""
    served = [p.name for p in ALL]
    deadline = time.monotonic() + within_s
    conn = await asyncpg.connect(database_url)
    try:
        while time.monotonic() < deadline:
            head = await conn.fetchval("SELECT coalesce(max(position), 0) FROM events")
            # Reach, not the rows: a row moves over events its view does not read only now
            # and then (projections.progress).
            reach = await reached(conn, served)
            behind = sum(1 for position in reach.values() if position < head)
            relay = await conn.fetchval("SELECT coalesce(min(position), 0) FROM relay_checkpoints")
            if behind == 0 and relay >= head:
                return True
            await asyncio.sleep(0.25)
        return False
    finally:
        await conn.close()


async def who_lags(database_url: str) -> str:
    """What a failed `caught_up` saw: the head, every checkpoint behind it, and what each
    session of the database is doing (to tell a stalled owner from a missing one)."""
    conn = await asyncpg.connect(database_url)
    try:
        head = await conn.fetchval("SELECT coalesce(max(position), 0) FROM events")
        views = await conn.fetch(
            "SELECT name, position, owner, state, error FROM projection_checkpoints "
            "WHERE position < $1",
            head,
        )
        relay = await conn.fetch("SELECT * FROM relay_checkpoints")
        sessions = await conn.fetch(
            "SELECT pid, application_name, state, wait_event_type, wait_event, "
            "now() - state_change AS for, left(query, 120) AS query "
            "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        locks = await conn.fetch(
            "SELECT pid, objid, granted FROM pg_locks WHERE locktype = 'advisory'"
        )
    finally:
        await conn.close()
    lines = [f"head {head}", *(f"view {dict(r)}" for r in views)]
    lines += [f"relay {dict(r)}" for r in relay]
    lines += [f"session {dict(r)}" for r in sessions]
    lines += [f"advisory lock {dict(r)}" for r in locks]
    return "\n".join(lines)


async def audit(database_url: str, nats_url: str, load: Load) -> Audit:
    """Compare what the load was told with the store, the projects view and JetStream."""
    conn = await asyncpg.connect(database_url)
    try:
        created = await conn.fetch(
            "SELECT data->>'name' AS name, stream_id FROM events "
            "WHERE type = 'ProjectCreated' AND data->>'name' LIKE $1",
            f"{load.prefix}-%",
        )
        event_ids = [str(r["event_id"]) for r in await conn.fetch("SELECT event_id FROM events")]
        acked_ids = [uuid.UUID(i) for i in load.acked.values()]
        view_rows = await conn.fetchval(
            "SELECT count(*) FROM rm_projects.projects WHERE id = ANY($1)", acked_ids
        )
    finally:
        await conn.close()
    per_name = Counter(r["name"] for r in created)
    found = sum(1 for name, pid in load.acked.items() if (name, pid) in _pairs(created))
    duplicated = sum(n - 1 for n in per_name.values()) + len(set(per_name) - set(load.acked))
    on_stream = Counter(await _stream_ids(nats_url))
    return Audit(
        acknowledged=len(load.acked),
        found=found,
        duplicated=duplicated,
        view_rows=view_rows,
        stream_missing=sum(1 for i in event_ids if i not in on_stream),
        stream_duplicated=sum(n - 1 for n in on_stream.values()),
    )


def _pairs(created: list[asyncpg.Record]) -> set[tuple[str, str]]:
    return {(r["name"], r["stream_id"]) for r in created}


async def _stream_ids(url: str) -> list[str]:
    """The Nats-Msg-Id (the event id) of every message on the relay's stream."""
    nc = await nats.connect(url)
    try:
        config = RelayConfig()
        sub = await nc.jetstream().subscribe(
            f"{config.prefix}.>", stream=config.stream, ordered_consumer=True
        )
        found = []
        while True:
            try:
                msg = await sub.next_msg(timeout=1.0)
            except NatsTimeout:
                return found
            found.append((msg.headers or {}).get(MSG_ID, ""))
    finally:
        await nc.close()
