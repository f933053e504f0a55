"""Progress of long commands (`projections rebuild`, `export`, `audit verify`) on stderr: a
bar with counts, rate and time left when stderr is a terminal; nothing there otherwise, where
the command's one summary line says it all.

rich, not tqdm: it is installed already (litestar depends on it), well kept, and its Progress
has the count, rate and time-left columns and the terminal detection built in.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from rich.progress import Task
    from rich.text import Text

Meter = Callable[[int, int], None]
"""Called with (done, total) as work goes on."""


@contextlib.contextmanager
def progress(what: str, unit: str = "events", stream: IO[str] | None = None) -> Iterator[Meter]:
    """A meter drawing a bar while the block runs, when `stream` (stderr) is a terminal."""
    stream = stream or sys.stderr
    if not _isatty(stream):
        yield lambda done, total: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:,.0f} {unit}/s" if speed else f"? {unit}/s")

    columns = (
        TextColumn(what),
        BarColumn(),
        MofNCompleteColumn(),
        Rate(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(file=stream), transient=False) as bar:
        task = bar.add_task(what, total=None)

        def meter(done: int, total: int) -> None:
            bar.update(task, completed=done, total=max(total, done))

        yield meter


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
