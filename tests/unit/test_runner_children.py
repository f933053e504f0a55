"""A step's exit is learned in the runner's event loop, without a thread started to wait for it.

In a process of its own, as a runner is: the child watcher is process-wide state.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SPAWN = """
import asyncio, sys, threading
from pathlib import Path
from adapters.runner.process import StepProcess, Workspace, watch_children_by_pidfd

async def main():
    step = await StepProcess.start(
        Workspace(Path(sys.argv[1]), "children"), "sleep 0.3\\nexit 3\\n", {"PATH": "/usr/bin:/bin"}
    )
    exited = asyncio.create_task(step.wait())
    await asyncio.sleep(0.1)
    # asyncio's ThreadedChildWatcher (3.11's default) names its threads asyncio-waitpid-<n>.
    waiting = [t.name for t in threading.enumerate() if "waitpid-" in t.name]
    print(await exited, waiting)

watch_children_by_pidfd()
asyncio.run(main())
"""


def test_a_step_s_exit_is_heard_without_a_waiting_thread(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", SPAWN, str(tmp_path)],
        cwd=root, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert done.stdout.strip() == "3 []"
