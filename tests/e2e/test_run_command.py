"""`flowledger run PIPELINE --follow` as a process: the log on stdout, the outcome as exit code."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tests.helpers import unique_id
from tests.integration.runner.conftest import label, runner_settings, stack  # noqa: F401
from tests.integration.runner.stack import Stack, runners

GREET = 'echo "hello, $FLOWLEDGER_PARAM_who"\necho "times $FLOWLEDGER_PARAM_times" >&2\n'


async def flowledger_run(
    stack: Stack,  # noqa: F811
    *args: str,
    key: str | None = None,
) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWLEDGER_")}
    env["FLOWLEDGER_API_URL"] = stack.api_url
    if key is not None:
        env["FLOWLEDGER_API_KEY"] = key
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adapters.cli.main", "run", *args,
        env=env, cwd=Path(__file__).parent, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(120):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def named_pipeline(stack: Stack, label: str, steps: list[dict]) -> str:  # noqa: F811
    name = unique_id("cli-")[:30]
    answer = await stack.http.post(
        "/api/v1/projects", json={"name": "cli", "slug": unique_id("c-")[:40]}, headers=stack.admin
    )
    body = {
        "project_id": answer.json()["id"],
        "name": name,
        "steps": [step | {"labels": [label]} for step in steps],
        "parameters": [
            {"name": "who", "type": "string", "default": "world"},
            {"name": "times", "type": "integer", "default": 1},
        ],
    }
    answer = await stack.http.post("/api/v1/pipelines", json=body, headers=stack.admin)
    assert answer.status_code == 201, answer.text
    return name


async def test_follow_prints_each_step_s_log_and_exits_0_when_the_run_succeeds(
    stack: Stack,  # noqa: F811
    label: str,  # noqa: F811
) -> None:
    name = await named_pipeline(
        stack, label, [{"name": "greet", "run": GREET}, {"name": "bye", "run": "echo bye"}]
    )
    admin = stack.admin["X-API-Key"]
    async with runners(stack.runner_config(label)):
        code, out, err = await flowledger_run(
            stack, name, "--param", "who=you", "--param", "times=3", "--follow", key=admin
        )
    assert code == 0, err
    assert out.splitlines() == ["[greet] hello, you", "[greet] times 3", "[bye] bye"]
    assert "step greet: succeeded (attempt 1)" in err
    assert "succeeded" in err.splitlines()[-1]


async def test_follow_exits_1_when_the_run_fails(stack: Stack, label: str) -> None:  # noqa: F811
    name = await named_pipeline(stack, label, [{"name": "boom", "run": "echo oops\nexit 4"}])
    async with runners(stack.runner_config(label)):
        code, out, err = await flowledger_run(stack, name, "-f", key=stack.admin["X-API-Key"])
    assert code == 1, err
    assert out == "[boom] oops\n"
    assert "failed: boom failed" in err


async def test_without_follow_it_prints_the_run_id_and_returns(
    stack: Stack,  # noqa: F811
    label: str,  # noqa: F811
) -> None:
    name = await named_pipeline(stack, label, [{"name": "later", "run": "true"}])
    code, out, _ = await flowledger_run(stack, name, key=stack.admin["X-API-Key"])
    assert code == 0
    status = await stack.http.get(f"/api/v1/pipeline-runs/{out.strip()}", headers=stack.admin)
    assert status.status_code == 200  # no runner has this label: it stays queued, unharmed


async def test_it_says_what_is_wrong_and_exits_nonzero(
    stack: Stack,  # noqa: F811
    label: str,  # noqa: F811
) -> None:
    name = await named_pipeline(stack, label, [{"name": "x", "run": "true"}])
    admin = stack.admin["X-API-Key"]

    code, _, err = await flowledger_run(stack, name)
    assert code == 2 and "FLOWLEDGER_API_KEY" in err
    code, _, err = await flowledger_run(stack, unique_id("nothing-"), key=admin)
    assert code == 5 and "no active pipeline named" in err
    # A command line that cannot be right is a usage error (2), as documented.
    code, _, err = await flowledger_run(stack, name, "--param", "times=many", key=admin)
    assert code == 2 and "'many' is not a valid integer" in err
    code, _, err = await flowledger_run(stack, name, "--param", "x", key=admin)
    assert code == 2 and "expected NAME=VALUE" in err
    code, _, err = await flowledger_run(stack, name, "--param", "nope=1", key=admin)
    assert code == 5 and "422" in err
    code, _, err = await flowledger_run(stack, name, key="flk_not-a-key")
    assert code == 5 and "401" in err
