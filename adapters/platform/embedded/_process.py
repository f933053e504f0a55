"""Child-process plumbing shared by the embedded servers: spawn, stop, free ports, log tails."""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

_PR_SET_PDEATHSIG = 1


class DataGone(RuntimeError):
    """A server's data folder has disappeared: starting it again would lose the ledger."""


def spawn(
    args: Sequence[str],
    log_path: Path,
    *,
    death_signal: int,
    user: str | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start `args` in its own session, output appended to `log_path`.

    Its own session keeps the terminal's Ctrl-C away from the child, so we stop servers
    only after the app above them has shut down. The parent-death signal stops the child
    if we are SIGKILLed; Linux ties it to the *thread* that spawned, so start servers
    from a thread that outlives them (the main thread).
    """
    with log_path.open("ab") as log:
        return subprocess.Popen(
            list(args),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=user,
            cwd=cwd,
            preexec_fn=_die_with_parent(death_signal) if sys.platform == "linux" else None,
        )


def _die_with_parent(sig: int):
    def preexec() -> None:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)

    return preexec


def stop(proc: subprocess.Popen[bytes] | None, *steps: tuple[int, float]) -> None:
    """Send each (signal, seconds to wait) in turn until the child exits; SIGKILL last."""
    if proc is None:
        return
    for sig, timeout in steps:
        if proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
            return
        except subprocess.TimeoutExpired:
            pass
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def tail(path: Path, start: int = 0, lines: int = 20) -> str:
    """The last `lines` lines written to `path` after byte offset `start`."""
    try:
        with path.open("rb") as f:
            f.seek(start)
            text = f.read().decode(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


def log_size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process, but alive
    return True


def how_it_ended(returncode: int) -> str:
    """`exit code 1`, or `signal SIGKILL` (Popen reports a signal as a negative code)."""
    if returncode >= 0:
        return f"exit code {returncode}"
    try:
        return f"signal {signal.Signals(-returncode).name}"
    except ValueError:
        return f"signal {-returncode}"
