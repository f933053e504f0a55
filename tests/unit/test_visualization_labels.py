"""The words on a step: command summaries, durations, limits and run states."""

from __future__ import annotations

import pytest

from adapters.visualization.graph import command_summary, step_graph
from adapters.visualization.labels import duration, span, state_key, state_line
from domain.run_statuses import StepStatus
from tests.unit.visual_graphs import DIAMOND, definition, diamond, step_row


@pytest.mark.parametrize(
    ("run", "summary"),
    [
        ("make test", "make test"),
        ("\n  set -e\n  make\n", "set -e …"),
        ("x" * 100, "x" * 79 + "…"),
    ],
)
def test_a_command_is_summed_up_by_its_first_line(run: str, summary: str) -> None:
    assert command_summary(run) == summary


@pytest.mark.parametrize(
    ("ms", "text"),
    [(None, ""), (0, "0 ms"), (999, "999 ms"), (1000, "1.0 s"), (59_949, "59.9 s"),
     (61_000, "1m 01s"), (3_599_999, "59m 59s"), (7_620_000, "2h 07m")],
)  # fmt: skip
def test_durations_read_at_a_glance(ms: int | None, text: str) -> None:
    assert duration(ms) == text


def test_limits_show_without_a_run() -> None:
    graph = step_graph(
        definition([{"name": "a", "run": "x", "timeout_s": 5400, "retries": 1,
                     "allow_failure": True}]),
        "t",
    )  # fmt: skip

    assert state_line(graph.nodes[0], with_run=False) == "timeout 1h 30m · 1 retry · may fail"
    assert [span(s) for s in (45, 60, 3600, 3661)] == ["45s", "1m", "1h", "1h 1m 1s"]


def test_a_run_overlay_carries_each_steps_latest_attempt() -> None:
    graph = diamond(with_run=True)
    test = graph.nodes[1]

    assert graph.with_run and test.name == "test"
    assert (test.status, test.attempt, test.max_attempts, test.exit_code) == (
        StepStatus.FAILED, 3, 3, 1
    )  # fmt: skip
    assert test.duration_ms == 8_100 and test.started_at is not None
    assert [state_key(n, with_run=True) for n in graph.nodes] == [
        "succeeded", "failed", "succeeded", "skipped"
    ]  # fmt: skip


def test_a_run_without_step_records_leaves_its_nodes_unknown() -> None:
    graph = step_graph(definition(DIAMOND), "t", [step_row("build", StepStatus.RUNNING)])

    assert [state_key(n, with_run=True) for n in graph.nodes] == ["running"] + ["none"] * 3
    assert state_line(graph.nodes[3], with_run=True) == "no record in this run"
    assert [(e.source, e.target) for e in graph.edges] == [
        ("build", "test"), ("build", "lint"), ("test", "deploy"), ("lint", "deploy")
    ]  # fmt: skip
