"""Console log lines for people, JSON for collectors, and routine lines at DEBUG in both."""

from __future__ import annotations

import io
import logging
import os

from adapters.telemetry.console import ConsoleFormatter, RoutineAtDebug, wants_console


def record(name: str, level: int, message: str, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord(name, level, __file__, 1, message, None, None)
    made.__dict__.update(extra)
    return made


def test_a_console_line_names_the_level_and_scrubs_secrets() -> None:
    line = ConsoleFormatter(colour=False).format(
        record("adapters.runner.runner", logging.WARNING, "token=flk_ab12_secretpart", run="r1")
    )
    assert " WARNING runner.runner: token=" in line
    assert "secretpart" not in line
    assert line.endswith("run=r1")
    coloured = ConsoleFormatter(colour=True).format(record("x", logging.ERROR, "boom"))
    assert "\x1b[31mERROR" in coloured


def test_auto_means_console_on_a_terminal_only() -> None:
    leader, follower = os.openpty()
    with open(follower, "w") as terminal:
        assert wants_console("auto", terminal)
        assert not wants_console("json", terminal)
    os.close(leader)
    assert not wants_console("auto", io.StringIO())
    assert wants_console("console", io.StringIO())


def test_routine_lines_are_debug_lines() -> None:
    routine = RoutineAtDebug()
    root = logging.getLogger()
    before = root.level
    try:
        root.setLevel(logging.INFO)
        access = record("uvicorn.access", logging.INFO, "GET /health 200")
        assert not routine.filter(access)
        assert not routine.filter(record("httpx", logging.INFO, "POST .../heartbeat 202"))
        assert routine.filter(record("uvicorn.access", logging.WARNING, "odd"))
        root.setLevel(logging.DEBUG)
        shown = record("uvicorn.access", logging.INFO, "GET /health 200")
        assert routine.filter(shown) and shown.levelname == "DEBUG"
    finally:
        root.setLevel(before)
