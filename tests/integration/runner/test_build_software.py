"""Runs that build software (issue 18, items 1, 3, 5, 6), with real runners and real git:
a checkout of exactly the run's sha (file:// and `git daemon`), the trigger's facts in the
environment, outputs flowing into later steps, definitions with bad references refused,
jobs no runner serves flagged and timed out, `GET /api/v1/queues`, and failed-only retries.
"""

from __future__ import annotations

import asyncio
import secrets
import subprocess
from pathlib import Path
from typing import Any

from adapters.runner.api import RunnerApi
from adapters.telemetry.metrics import QUEUE_EVENTS
from tests.helpers import unique_id
from tests.integration.runner.gitrepo import GIT_ENV, Origin, git_daemon, private_http
from tests.integration.runner.stack import WAIT_S, Stack, runners

REPORT = (
    'cd "${CHECKOUT_DIR:-.}"\n'
    'echo "head=$(git rev-parse HEAD)" >> "$FLOWLEDGER_OUTPUT"\n'
    'echo "content=$(cat app.txt)" >> "$FLOWLEDGER_OUTPUT"\n'
    'echo "commits=$(git rev-list --count HEAD)" >> "$FLOWLEDGER_OUTPUT"\n'
    'echo "kind=$FLOWLEDGER_TRIGGER_KIND" >> "$FLOWLEDGER_OUTPUT"\n'
    'echo "branch=$FLOWLEDGER_TRIGGER_BRANCH" >> "$FLOWLEDGER_OUTPUT"\n'
    'echo "sha=$FLOWLEDGER_TRIGGER_SHA" >> "$FLOWLEDGER_OUTPUT"\n'
    'echo "url=$FLOWLEDGER_TRIGGER_REPOSITORY_URL" >> "$FLOWLEDGER_OUTPUT"\n'
    'echo "repo=$FLOWLEDGER_TRIGGER_REPOSITORY" >> "$FLOWLEDGER_OUTPUT"\n'
)


async def trigger(stack: Stack, pipeline_id: str, **body: Any) -> str:
    answer = await stack.http.post(
        f"/api/v1/pipelines/{pipeline_id}/runs", json=body, headers=stack.admin
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def git_ok(cwd: Path, *args: str) -> bool:
    env = {**GIT_ENV, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "false"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True).returncode == 0


def of_type(events: list, kind: str) -> list[dict[str, Any]]:
    return [d for _, t, d in events if t == kind]


async def test_a_step_checks_out_exactly_the_runs_sha_over_file_and_git_daemon(
    stack: Stack, label: str, tmp_path: Path
) -> None:
    origin = Origin(tmp_path)
    first = origin.push({"app.txt": "v1"}, "first")
    second = origin.push({"app.txt": "v2"}, "second")  # main moved on: `first` is no tip
    pipeline = await stack.pipeline(
        [{"name": "build", "run": REPORT, "labels": [label], "env": {"CHECKOUT_DIR": "src"},
          "checkout": {"depth": 1, "path": "src"}}]
    )  # fmt: skip
    with git_daemon(tmp_path) as daemon:
        async with runners(stack.runner_config(label)):
            over_file = await trigger(stack, pipeline, repo="team/app", ref="refs/heads/main",
                                      sha=first, clone_url=origin.url)  # fmt: skip
            over_daemon = await trigger(stack, pipeline, repo="team/app", ref="refs/heads/main",
                                        sha=second, clone_url=f"{daemon}/origin.git")  # fmt: skip
            assert await stack.finished(over_file) == "RunSucceeded"
            assert await stack.finished(over_daemon) == "RunSucceeded"

    for run_id, sha, content, url in (
        (over_file, first, "v1", origin.url),
        (over_daemon, second, "v2", f"{daemon}/origin.git"),
    ):
        events = await stack.events(run_id)
        (done,) = of_type(events, "StepSucceeded")
        assert done["outputs"] == {
            "head": sha,
            "content": content,
            "commits": "1",  # depth 1
            "kind": "api",
            "branch": "main",
            "sha": sha,
            "url": url,
            "repo": "team/app",
        }
        (checked,) = of_type(events, "StepCheckedOut")
        assert (checked["sha"], checked["path"], checked["attempt"]) == (sha, "src", 1)
        assert checked["duration_ms"] >= 0
        assert done["metrics"]["checkout_ms"] == checked["duration_ms"]


async def test_a_checkout_without_a_repository_fails_the_step_saying_why(
    stack: Stack, label: str
) -> None:
    pipeline = await stack.pipeline(
        [{"name": "build", "run": "echo never", "labels": [label], "checkout": True}]
    )
    async with runners(stack.runner_config(label)):
        run_id = await stack.trigger(pipeline)
        assert await stack.finished(run_id) == "RunFailed"
    (failed,) = of_type(await stack.events(run_id), "StepFailed")
    assert failed["reason"].startswith("checkout failed: the run has no repository URL")


async def test_outputs_flow_to_the_steps_that_need_them(stack: Stack, label: str) -> None:
    build = (
        'echo "version=1.2.3" >> "$FLOWLEDGER_OUTPUT"\n'
        "printf 'notes<<EOF\\nline one\\nline=two\\nEOF\\n' >> \"$FLOWLEDGER_OUTPUT\"\n"
    )
    deploy = (
        'echo "templated=${{ steps.build.outputs.version }}" >> "$FLOWLEDGER_OUTPUT"\n'
        'echo "from_env=$FLOWLEDGER_STEPS_BUILD_OUTPUTS_VERSION" >> "$FLOWLEDGER_OUTPUT"\n'
        'echo "tag=$TAG" >> "$FLOWLEDGER_OUTPUT"\n'
        'echo "lines=$(printf "%s\\n" "$FLOWLEDGER_STEPS_BUILD_OUTPUTS_NOTES" | wc -l)"'
        ' >> "$FLOWLEDGER_OUTPUT"\n'
        'echo "missing=[${{ steps.build.outputs.nope }}]" >> "$FLOWLEDGER_OUTPUT"\n'
    )
    pipeline = await stack.pipeline(
        [
            {"name": "build", "run": build, "labels": [label]},
            {"name": "test", "run": "true", "needs": ["build"], "labels": [label]},
            {"name": "deploy", "run": deploy, "needs": ["test"], "labels": [label],
             "env": {"TAG": "app-${{ steps.build.outputs.version }}-${{ params.flavor }}"}},
        ],
        parameters=[{"name": "flavor", "type": "string", "default": "slim"}],
    )  # fmt: skip
    async with runners(stack.runner_config(label)):
        run_id = await stack.trigger(pipeline)
        assert await stack.finished(run_id) == "RunSucceeded"

    done = {d["step"]: d for d in of_type(await stack.events(run_id), "StepSucceeded")}
    assert done["build"]["outputs"] == {"version": "1.2.3", "notes": "line one\nline=two"}
    # `deploy` needs `build` through `test`: a transitive ancestor's outputs reach it too.
    assert done["deploy"]["outputs"] == {
        "templated": "1.2.3",
        "from_env": "1.2.3",
        "tag": "app-1.2.3-slim",
        "lines": "2",
        "missing": "[]",
    }


async def test_a_definition_referring_to_a_step_it_does_not_need_is_refused(
    stack: Stack,
) -> None:
    project = await stack.http.post(
        "/api/v1/projects",
        json={"name": "refs", "slug": unique_id("r-")[:40]},
        headers=stack.admin,
    )
    cases = [
        ([{"name": "a", "run": "true"}, {"name": "b", "run": "true"},
          {"name": "c", "run": "echo ${{ steps.a.outputs.v }}", "needs": ["b"]}],
         "steps[2].run", "'a' is not a step this one needs"),
        ([{"name": "a", "run": "true"},
          {"name": "b", "run": "true", "env": {"X": "${{ steps.zz.outputs.v }}"}}],
         "steps[1].env.X", "no step is named 'zz'"),
        ([{"name": "a", "run": "echo ${{ params.missing }}"}], "steps[0].run", "no parameter"),
        ([{"name": "a", "run": "echo ${{ os.system }}"}], "steps[0].run", "start with"),
        ([{"name": "a", "run": "echo ${{ steps.a.outputs.v"}], "steps[0].run", "never closed"),
        ([{"name": "a", "run": "true", "checkout": {"path": "../out"}}],
         "steps[0].checkout.path", "without '..'"),
    ]  # fmt: skip
    for steps, field, why in cases:
        body = {"project_id": project.json()["id"], "name": unique_id("p-")[:40], "steps": steps}
        answer = await stack.http.post("/api/v1/pipelines", json=body, headers=stack.admin)
        assert answer.status_code == 422, answer.text
        assert field in answer.text and why in answer.text, answer.text
    # Sequential steps need every step before them: a reference back is fine.
    ok = [{"name": "a", "run": "true"}, {"name": "b", "run": "true"},
          {"name": "c", "run": "echo ${{ steps.a.outputs.v }} ${{ trigger.sha }}"}]  # fmt: skip
    body = {"project_id": project.json()["id"], "name": unique_id("p-")[:40], "steps": ok}
    answer = await stack.http.post("/api/v1/pipelines", json=body, headers=stack.admin)
    assert answer.status_code == 201, answer.text


async def test_a_job_no_runner_serves_is_flagged_then_fails_no_runner(
    stack: Stack, label: str
) -> None:
    before = QUEUE_EVENTS.labels("no_runner")._value.get()
    pipeline = await stack.pipeline(
        [{"name": "orphan", "run": "true", "labels": [label], "queue_timeout_s": 1},
         {"name": "after", "run": "true", "labels": [label]}]
    )  # fmt: skip
    run_id = await stack.trigger(pipeline)
    assert await stack.finished(run_id) == "RunFailed"

    events = await stack.events(run_id)
    (flag,) = of_type(events, "StepWaitingForRunner")
    assert (flag["step"], flag["labels"]) == ("orphan", [label])
    (failed,) = of_type(events, "StepFailed")
    assert failed["step"] == "orphan" and failed["reason"].startswith("no_runner")
    assert [d["step"] for d in of_type(events, "StepSkipped")] == ["after"]
    assert not of_type(events, "StepStarted")
    view = await stack.viewed(run_id, lambda r: r["status"] == "failed")
    assert view["steps"][0]["reason"].startswith("no_runner")
    assert QUEUE_EVENTS.labels("no_runner")._value.get() > before


async def test_queues_show_waiting_jobs_per_label_and_the_runners_that_could_take_them(
    stack: Stack, label: str
) -> None:
    pipeline = await stack.pipeline([{"name": "waits", "run": "true", "labels": [label]}])
    run_id = await stack.trigger(pipeline)
    await stack.wait_for_event(run_id, ("StepWaitingForRunner",))
    view = await stack.viewed(run_id, lambda r: "waiting_for_runner" in str(r["steps"][0]))
    assert label in view["steps"][0]["reason"]
    queue = await queue_of(stack, label, lambda q: q["waiting_for_runner"] == 1)
    assert queue["waiting"] == 1 and queue["runners"] == []
    assert queue["jobs"][0]["run_id"] == run_id and queue["jobs"][0]["step"] == "waits"

    # A runner registers (through the real API) but does not pull yet: it could take the job.
    name = unique_id("idle-")[:30]
    async with RunnerApi(stack.api_url, stack.runner_token) as api:
        await api.register(name=name, labels=(label,), host="h", version="1", concurrency=1,
                           retry_for_s=5)  # fmt: skip
    queue = await queue_of(stack, label, lambda q: bool(q["runners"]))
    assert [r["name"] for r in queue["runners"]] == [name]

    async with runners(stack.runner_config(label)):
        assert await stack.finished(run_id) == "RunSucceeded"
    await queue_of(stack, label, lambda q: q is None)


async def queue_of(stack: Stack, label: str, until: Any) -> Any:
    async with asyncio.timeout(WAIT_S):
        while True:
            answer = await stack.http.get("/api/v1/queues", headers=stack.admin)
            assert answer.status_code == 200, answer.text
            found = [q for q in answer.json()["items"] if q["labels"] == [label]]
            queue = found[0] if found else None
            if (queue is None and until(None)) or (queue is not None and until(queue)):
                return queue
            await asyncio.sleep(0.1)


async def test_a_failed_only_retry_keeps_what_succeeded_and_takes_new_parameters(
    stack: Stack, label: str, shared: Path
) -> None:
    trace = shared / "trace"
    prepare = f'echo prepare >> {trace}\necho "v=42" >> "$FLOWLEDGER_OUTPUT"'
    check = (
        f'echo check >> {trace}\ntest "$FLOWLEDGER_PARAM_ok" = true\n'
        'echo "got=${{ steps.prepare.outputs.v }}" >> "$FLOWLEDGER_OUTPUT"'
    )
    pipeline = await stack.pipeline(
        [
            {"name": "prepare", "run": prepare, "labels": [label]},
            {"name": "check", "run": check, "labels": [label]},
        ],
        parameters=[{"name": "ok", "type": "boolean", "default": False}],
    )  # fmt: skip
    async with runners(stack.runner_config(label)):
        old = await stack.trigger(pipeline)
        assert await stack.finished(old) == "RunFailed"
        retry = f"/api/v1/pipeline-runs/{old}/retry"
        for bad, field in (({"nope": 1}, "parameters.nope"), ({"ok": "yes"}, "parameters.ok")):
            answer = await stack.http.post(
                retry, json={"failed_only": True, "parameters": bad}, headers=stack.admin
            )
            assert answer.status_code == 422 and field in answer.text, answer.text
        for body in ({"failed_only": "yes"}, {"rerun": True}, {"parameters": [1]}):
            answer = await stack.http.post(retry, json=body, headers=stack.admin)
            assert answer.status_code in (400, 422), answer.text
        assert of_type(await stack.events(old), "RunRetried") == []  # refusals wrote nothing
        answer = await stack.http.post(
            retry, json={"failed_only": True, "parameters": {"ok": True}}, headers=stack.admin
        )
        assert answer.status_code == 201, answer.text
        new = answer.json()["id"]
        ended = await stack.finished(new)
        assert ended == "RunSucceeded", [
            d["reason"] for d in of_type(await stack.events(new), "StepFailed")
        ]

    assert trace.read_text().split() == ["prepare", "check", "check"]  # prepare ran once
    events = await stack.events(new)
    (requested,) = of_type(events, "RunRequested")
    assert requested["retry_of"] == old and requested["parameters"] == {"ok": True}
    (carried,) = of_type(events, "StepCarriedOver")
    assert (carried["step"], carried["from_run"], carried["outputs"]) == (
        "prepare",
        old,
        {"v": "42"},
    )
    assert [d["step"] for d in of_type(events, "StepStarted")] == ["check"]
    (done,) = of_type(events, "StepSucceeded")
    assert done["outputs"] == {"got": "42"}
    (pointer,) = of_type(await stack.events(old), "RunRetried")
    assert pointer["retry"] == new and pointer["failed_only"] is True
    view = await stack.viewed(new, lambda r: r["status"] == "succeeded")
    assert view["steps"][0]["status"] == "succeeded" and old in view["steps"][0]["reason"]
    # Nothing failed in the new run: a failed-only retry of it has nothing to do.
    answer = await stack.http.post(
        f"/api/v1/pipeline-runs/{new}/retry", json={"failed_only": True}, headers=stack.admin
    )
    assert answer.status_code == 422 and "failed_only" in answer.text, answer.text


async def test_a_private_repository_is_checked_out_with_a_token_from_the_projects_secrets(
    stack: Stack, label: str, tmp_path: Path
) -> None:
    token = "tok-" + secrets.token_urlsafe(24)  # made at run time: no file holds it
    origin = Origin(tmp_path)
    sha = origin.push({"app.txt": "private"}, "first")
    pipeline = await stack.pipeline(
        [{"name": "build", "run": REPORT, "labels": [label], "secrets": ["GIT_TOKEN"],
          "checkout": {"token_secret": "GIT_TOKEN", "username": "ci"}}]
    )  # fmt: skip
    project_id = await stack.pool.fetchval(
        "SELECT data->>'project_id' FROM events WHERE stream_id = $1 AND version = 1", pipeline
    )
    answer = await stack.http.put(
        f"/api/v1/projects/{project_id}/secrets/GIT_TOKEN", json={"value": token},
        headers=stack.admin,
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    with private_http(tmp_path, "ci", token) as (server, seen):
        url = f"{server}/origin.git"
        async with runners(stack.runner_config(label)):
            run_id = await trigger(stack, pipeline, sha=sha, clone_url=url)
            assert await stack.finished(run_id) == "RunSucceeded"
        # Without the token the same server refuses: the checkout really authenticated.
        assert not git_ok(tmp_path, "ls-remote", url)
    assert any(a.startswith("Basic ") for a in seen)

    events = await stack.events(run_id)
    (done,) = of_type(events, "StepSucceeded")
    assert (done["outputs"]["head"], done["outputs"]["content"]) == (sha, "private")
    assert of_type(events, "StepCheckedOut")[0]["sha"] == sha
    # The token is in no event, no log line, and not in the URL the run recorded.
    held = await stack.pool.fetchval(
        "SELECT count(*) FROM events WHERE strpos(data::text || metadata::text, $1) > 0", token
    )
    assert held == 0


async def test_a_checkout_token_secret_must_be_one_of_the_steps_secrets(stack: Stack) -> None:
    project = await stack.http.post(
        "/api/v1/projects", json={"name": "t", "slug": unique_id("r-")[:40]}, headers=stack.admin
    )
    steps = [{"name": "a", "run": "true", "checkout": {"token_secret": "GIT_TOKEN"}}]
    body = {"project_id": project.json()["id"], "name": unique_id("p-")[:40], "steps": steps}
    answer = await stack.http.post("/api/v1/pipelines", json=body, headers=stack.admin)
    assert answer.status_code == 422, answer.text
    assert "steps[0].checkout.token_secret" in answer.text
