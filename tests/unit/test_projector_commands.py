"""The projector's subcommands parse and explain themselves; the status table lines up."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from adapters.cli.main import build_parser, main
from adapters.store.locks import lock_key
from projections.checkpoints import check_name
from projections.quarantine_ops import QuarantineSummary
from projections.status import ProjectionStatus, status_table


@pytest.mark.parametrize(
    "argv",
    [["projector"], ["projections", "status"], ["projections", "status", "--json"],
     ["projections", "rebuild", "runs"]],
)  # fmt: skip
def test_the_subcommands_parse(argv: list[str]) -> None:
    assert callable(build_parser().parse_args(argv).run)


@pytest.mark.parametrize("argv", [["projector"], ["projections", "rebuild"]])
def test_their_help_explains_them(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    assert f"usage: flowledger {' '.join(argv)}" in capsys.readouterr().out


def test_lock_keys_are_stable_signed_64_bit_integers() -> None:
    key = lock_key("projection", "runs")
    assert key == lock_key("projection", "runs") != lock_key("projection", "steps")
    assert -(2**63) <= key < 2**63


@pytest.mark.parametrize("name", ["Runs", "runs-view", "a__b", "", "x" * 51, "1runs"])
def test_names_that_would_make_bad_schema_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="lower_snake"):
        check_name(name)


def test_the_status_table_has_a_line_per_projection() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    failed = ProjectionStatus(
        name="runs", version=2, position=41, head=50, lag_events=9, lag_seconds=1.25,
        state="failed", error="ValueError: boom", error_position=42, owner="h:1", updated_at=at,
    )  # fmt: skip
    fine = msgspec.structs.replace(
        failed, name="logs", state="running", error=None, error_position=None
    )
    held = QuarantineSummary(events=3, streams=1, oldest_position=7, oldest_seen=at)
    partial = msgspec.structs.replace(fine, name="pipelines", quarantine=held)

    header, first, second, third = status_table([failed, fine, partial]).splitlines()

    assert header.split() == [
        "NAME", "VERSION", "POSITION", "HEAD", "LAG", "LAG_S", "STATE", "OWNER", "QUARANTINED",
        "ERROR",
    ]  # fmt: skip
    assert first.split()[:9] == ["runs", "2", "41", "50", "9", "1.2", "failed", "h:1", "-"]
    assert first.endswith("at 42: ValueError: boom")
    assert second.split() == ["logs", "2", "41", "50", "9", "1.2", "running", "h:1", "-"]
    assert third.split()[7:] == ["h:1", "3", "(1", "streams,", "from", "7)"]
