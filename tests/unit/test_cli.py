"""The command line: every subcommand explains itself, and bad settings stop `up` cleanly."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from adapters.cli.main import build_parser, main

REQUIRED = ["up", "migrate", "version", "api", "projector"]


def test_the_issue_s_subcommands_exist() -> None:
    for command in REQUIRED:
        assert build_parser().parse_args([command]).command == command


@pytest.mark.parametrize("command", REQUIRED)
def test_help_of_each_subcommand_explains_it(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])

    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert f"usage: flowledger {command}" in text
    assert len(text.split("\n\n")[1].split()) >= 5, "the description should say what it does"


def test_top_level_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])

    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert all(command in text for command in REQUIRED)
    assert "FLOWLEDGER_DATABASE_URL" in text


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    assert capsys.readouterr().out.strip() == version("flowledger")


@pytest.mark.parametrize("command", ["up", "api", "migrate"])
def test_an_invalid_port_stops_start_up_naming_the_variable(
    command: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)  # no developer .env files
    monkeypatch.setenv("FLOWLEDGER_PORT", "eighty")
    monkeypatch.setenv("FLOWLEDGER_DATA_DIR", str(tmp_path / "data"))

    assert main([command]) == 2

    err = capsys.readouterr().err
    assert "FLOWLEDGER_PORT" in err
    assert "port" in err.split("FLOWLEDGER_PORT", 1)[1]
    assert not (tmp_path / "data").exists(), "nothing may start before settings are valid"


def test_runs_as_a_module(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "adapters.cli.main", "up"],
        cwd=tmp_path,
        env={"FLOWLEDGER_PORT": "70000", "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 2
    assert "FLOWLEDGER_PORT" in result.stderr


ROOT = Path(__file__).resolve().parents[2]


def readme_shell_lines() -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    return [line.split("#")[0].strip() for block in blocks for line in block.splitlines()]


def test_the_readme_names_only_commands_that_exist() -> None:
    prefix = ["uv", "run", "flowledger"]
    lines = [shlex.split(line) for line in readme_shell_lines()]
    commands = [words[3:] for words in lines if words[:3] == prefix]
    assert ["up"] in commands
    for args in commands:
        build_parser().parse_args(args)  # exits (fails the test) on an unknown subcommand


def test_ci_runs_exactly_the_readme_test_command() -> None:
    assert "uv run pytest" in readme_shell_lines()
    script = (ROOT / ".ci" / "run").read_text()
    assert script.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in script
    assert re.findall(r"^exec (.*)$", script, flags=re.M) == ["uv run pytest"]


def test_keys_create_explains_itself(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["keys", "create", "--help"])

    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert "usage: flowledger keys create" in text
    assert all(option in text for option in ("--name", "--scopes", "--project", "--expires-in"))
    assert "shown this once" in text


def test_keys_create_parses_its_options() -> None:
    args = build_parser().parse_args(
        ["keys", "create", "--name", "ci", "--scopes", "read, write", "--expires-in-days", "30"]
    )

    assert (args.name, args.scopes, args.project, args.expires_in_days) == (
        "ci",
        ("read", "write"),
        None,
        30,
    )


@pytest.mark.parametrize(
    "options",
    [
        ["--scopes", "read,root"],
        ["--scopes", ""],
        ["--scopes", "read", "--project", "not-a-uuid"],
        ["--scopes", "read", "--expires-in-days", "0"],
    ],
)
def test_keys_create_refuses_bad_options_before_starting_anything(
    options: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["keys", "create", "--name", "ci", *options])

    assert exit_.value.code == 2
    assert "flowledger keys create: error: argument" in capsys.readouterr().err
