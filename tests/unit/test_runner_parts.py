"""The runner's pure parts: chunks, outputs, step environment, slots, `run` and `runner` options."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from adapters.cli.main import build_parser, main
from adapters.cli.run_follow import LogPrinter
from adapters.cli.run_trigger import RunCommandError, typed_parameters
from adapters.platform.settings import Settings, SettingsError, load_settings
from adapters.runner.config import RunnerConfig
from adapters.runner.launch import LaunchError, runner_config
from adapters.runner.logship import split_utf8
from adapters.runner.outputs import read_outputs
from adapters.runner.process import step_environment
from adapters.runner.slots import Slots


def test_chunks_never_split_a_character_and_prefer_to_end_at_a_newline() -> None:
    text = "é" * 10 + "\n" + "ü" * 10
    pieces = split_utf8(text, 15)
    assert "".join(pieces) == text
    assert all(len(p.encode()) <= 15 for p in pieces)
    assert split_utf8("aaaa\nbbbbbbbbbb", 8) == ["aaaa\n", "bbbbbbbb", "bb"]
    assert split_utf8("", 8) == []


def test_outputs_keep_good_lines_and_name_the_bad_ones(tmp_path: Path) -> None:
    path = tmp_path / "outputs"
    path.write_text("# comment\nversion=1.2\nurl=http://x/?a=b\nversion=1.3\nno pair\n=empty\n")
    outputs, problems = read_outputs(path)
    assert outputs == {"version": "1.3", "url": "http://x/?a=b"}
    assert problems == ["outputs line 5: expected key=value", "outputs line 6: expected key=value"]
    assert read_outputs(tmp_path / "missing")[0] == {}


def test_a_step_sees_params_env_and_job_facts_but_never_the_runner_s_settings() -> None:
    env = step_environment(
        {"PATH": "/bin", "FLOWLEDGER_RUNNER_TOKEN": "secret", "HOME": "/root"},
        step_env={"HOME": "/work", "MODE": "fast"},
        parameters={"branch": "main"},
        runner_vars={"FLOWLEDGER_STEP": "build"},
    )
    assert env == {
        "PATH": "/bin",
        "HOME": "/work",
        "MODE": "fast",
        "FLOWLEDGER_PARAM_branch": "main",
        "FLOWLEDGER_STEP": "build",
    }


def test_parameters_are_typed_as_the_pipeline_declares_them() -> None:
    pipeline = {
        "definition": {
            "parameters": [
                {"name": "n", "type": "integer"},
                {"name": "ratio", "type": "number"},
                {"name": "dry", "type": "boolean"},
                {"name": "tag", "type": "string"},
            ]
        }
    }
    given = ["n=3", "ratio=0.5", "dry=yes", "tag=007", "other=x=y"]
    assert typed_parameters(pipeline, given) == {
        "n": 3, "ratio": 0.5, "dry": True, "tag": "007", "other": "x=y",
    }  # fmt: skip
    with pytest.raises(RunCommandError, match="'three' is not a valid integer"):
        typed_parameters(pipeline, ["n=three"])
    with pytest.raises(RunCommandError, match="expected NAME=VALUE"):
        typed_parameters(pipeline, ["novalue"])


def test_the_log_printer_prefixes_whole_lines_with_their_step() -> None:
    lines: list[str] = []
    printer = LogPrinter(lines.append)
    printer.chunk("build", "one\ntw")
    printer.chunk("test", "a\n")
    printer.chunk("build", "o\nthree")
    printer.flush()
    assert lines == ["[build] one", "[test] a", "[build] two", "[build] three"]


async def test_slots_bound_what_is_taken_and_closing_frees_waiters() -> None:
    slots = Slots(2)
    assert await slots.take() and await slots.take()
    waiting = asyncio.create_task(slots.take())
    await asyncio.sleep(0)
    assert not waiting.done()
    slots.give()
    assert await waiting is True
    closing = asyncio.create_task(slots.take())
    await asyncio.sleep(0)
    slots.close()
    assert await closing is False
    assert await slots.take() is False


def test_runner_and_run_options_parse_and_refuse_bad_values(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = build_parser().parse_args(
        ["runner", "--labels", "linux, gpu,linux", "--concurrency", "3", "--name", "a"]
    )
    assert (args.labels, args.concurrency, args.name) == (("linux", "gpu"), 3, "a")
    args = build_parser().parse_args(["run", "example", "--param", "a=1", "--param", "b=2", "-f"])
    assert (args.pipeline, args.param, args.follow) == ("example", ["a=1", "b=2"], True)
    for bad in (["runner", "--labels", "a b"], ["runner", "--concurrency", "0"], ["run"]):
        with pytest.raises(SystemExit) as exit_:
            main(bad)
        assert exit_.value.code == 2
    assert "--concurrency" in capsys.readouterr().err


def test_a_runner_without_a_key_says_how_to_get_one(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, nats_url="nats://127.0.0.1:4222")
    with pytest.raises(LaunchError, match="keys create --name my-runner --scopes runner"):
        runner_config(settings)
    config = runner_config(settings, token="flk_x", labels=["gpu"], concurrency=5)
    assert (config.labels, config.concurrency, config.api_url) == (
        ("gpu",), 5, "http://127.0.0.1:8000",
    )  # fmt: skip


def test_a_runner_without_nats_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(LaunchError, match="FLOWLEDGER_NATS_URL"):
        runner_config(Settings(data_dir=tmp_path), token="flk_x")


def test_runner_settings_are_read_and_checked(tmp_path: Path) -> None:
    settings = load_settings(
        {"FLOWLEDGER_RUNNER_LABELS": "linux,arm64", "FLOWLEDGER_RUNNER_TOKEN": "flk_secret"},
        cwd=tmp_path,
    )
    assert settings.runner_labels == ("linux", "arm64")
    assert "flk_secret" not in repr(settings)
    with pytest.raises(SettingsError, match="FLOWLEDGER_RUNNER_LOG_CHUNK_BYTES"):
        load_settings({"FLOWLEDGER_RUNNER_LOG_CHUNK_BYTES": "100000"}, cwd=tmp_path)
    with pytest.raises(SettingsError, match="FLOWLEDGER_RUNNER_LABELS"):
        load_settings({"FLOWLEDGER_RUNNER_LABELS": "a b"}, cwd=tmp_path)


def test_the_masked_env_names_runner_variables_and_only_set_ones_are_masked(
    tmp_path: Path,
) -> None:
    masked = {"FLOWLEDGER_RUNNER_MASKED_ENV": "NPM_TOKEN, DEPLOY_KEY"}
    settings = load_settings(masked, cwd=tmp_path)
    config = RunnerConfig.from_settings(settings, api_url="http://api", token="t", nats_url="n")

    assert config.masked_env == ("NPM_TOKEN", "DEPLOY_KEY")
    assert config.masked_values({"DEPLOY_KEY": "v", "NPM_TOKEN": ""}) == ["v"]
    with pytest.raises(SettingsError, match="FLOWLEDGER_RUNNER_MASKED_ENV"):
        load_settings({"FLOWLEDGER_RUNNER_MASKED_ENV": "NOT-A-NAME"}, cwd=tmp_path)
