"""Matrices end to end: expanded at run creation, each instance a step of its own on runners."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.helpers import unique_id
from tests.integration.runner.stack import Stack, runners


def of_type(events: list, kind: str) -> dict[str, dict[str, Any]]:
    return {d["step"]: d for _, t, d in events if t == kind}


async def test_a_2x3_matrix_with_an_exclusion_fails_fast(stack: Stack, shared: Path) -> None:
    # The instances go to the runners of their own `os` value: two labels of this test.
    linux, mac = unique_id("lx-")[:24], unique_id("mc-")[:24]
    script = (
        'echo "instance ${{ matrix.os }}/$FLOWLEDGER_MATRIX_python"\n'
        'if [ "${{ matrix.python }}" = 3.10 ] && [ "$FLOWLEDGER_MATRIX_os" = \'' + linux + "' ];"
        " then exit 4; fi\n"
        "sleep 40\n"
        f"touch {shared}/never\n"
    )
    matrix = {
        "os": [linux, mac],
        "python": ["3.10", "3.11", "3.12"],
        "exclude": [{"os": mac, "python": "3.12"}],
    }
    pipeline = await stack.pipeline(
        [
            {"name": "test", "run": script, "matrix": matrix, "fail_fast": True,
             "labels": ["${{ matrix.os }}"]},
            {"name": "report", "run": f"touch {shared}/reported", "needs": ["test"],
             "labels": [linux]},
            {"name": "summary", "needs": ["test"], "labels": [linux],
             "if": "always() && steps.test.outcome == 'failure'",
             "run": f"touch {shared}/summarised"},
        ]
    )  # fmt: skip
    async with runners(
        stack.runner_config(linux, concurrency=3), stack.runner_config(mac, concurrency=2)
    ):
        run_id = await stack.trigger(pipeline)
        assert await stack.finished(run_id) == "RunFailed"

    events = await stack.events(run_id)
    planned = [s["name"] for s in events[0][2]["steps"]]
    failing = f"test (os={linux}, python=3.10)"
    instances = [failing, f"test (os={linux}, python=3.11)", f"test (os={linux}, python=3.12)",
                 f"test (os={mac}, python=3.10)", f"test (os={mac}, python=3.11)"]  # fmt: skip
    assert planned == [*instances, "report", "summary"]
    assert set(of_type(events, "StepFailed")) == {failing}
    cancelled = of_type(events, "StepCancelled")
    assert set(cancelled) == set(instances) - {failing}
    assert {d["reason"] for d in cancelled.values()} == {f"fail-fast: {failing} failed"}
    # Each instance ran on a runner of its own label, with its own log.
    dispatched = {d["step"]: d["label"] for _, t, d in events if t == "StepDispatched"}
    assert dispatched[failing] == linux
    assert all(dispatched[i] == mac for i in instances if mac in i and i in dispatched)
    logs = {d["step"]: d["text"] for _, t, d in events if t == "LogChunkAppended"}
    assert logs[failing].startswith(f"instance {linux}/3.10\n")
    assert of_type(events, "StepSkipped")["report"]["reason"] == f"{failing} failed"
    assert set(of_type(events, "StepSucceeded")) == {"summary"}
    assert (shared / "summarised").exists()
    assert not (shared / "reported").exists() and not (shared / "never").exists()
    # The views and the graph show the instances.
    view = await stack.viewed(run_id, lambda r: r["status"] == "failed")
    assert [s["name"] for s in view["steps"]] == planned
    graph = await stack.http.get(
        f"/api/v1/pipelines/{pipeline}/visualization", params={"run": run_id}, headers=stack.admin
    )
    assert graph.status_code == 200, graph.text
    nodes = {n["name"]: n for n in graph.json()["nodes"]}
    assert list(nodes) == planned
    assert nodes[failing]["status"] == "failed"
    assert set(nodes["report"]["needs"]) == set(instances)


async def test_matrix_instances_keep_their_outputs_and_max_parallel_and_dependants_wait(
    stack: Stack, label: str
) -> None:
    script = (
        "sleep 0.3\n"
        'echo "py=${{ matrix.python }}-$FLOWLEDGER_MATRIX_python" >> "$FLOWLEDGER_OUTPUTS"\n'
    )
    pipeline = await stack.pipeline(
        [
            {"name": "test", "run": script, "labels": [label], "max_parallel": 2,
             "matrix": {"python": ["3.11", "3.12", "3.13"],
                        "include": [{"python": "3.13", "experimental": True}]}},
            {"name": "after", "run": "echo after", "needs": ["test"], "labels": [label]},
        ]
    )  # fmt: skip
    async with runners(stack.runner_config(label, concurrency=3)):
        run_id = await stack.trigger(pipeline)
        assert await stack.finished(run_id) == "RunSucceeded"

    events = await stack.events(run_id)
    done = of_type(events, "StepSucceeded")
    outputs = {step: d["outputs"] for step, d in done.items() if step != "after"}
    assert outputs == {
        "test (python=3.11)": {"py": "3.11-3.11"},
        "test (python=3.12)": {"py": "3.12-3.12"},
        "test (experimental=true, python=3.13)": {"py": "3.13-3.13"},
    }
    # Never more than two instances queued or running at once; `after` waits for all three.
    busy, most = set(), 0
    for _, kind, data in events:
        if kind == "StepQueued" and data["step"] in outputs:
            busy.add(data["step"])
            most = max(most, len(busy))
        elif kind == "StepSucceeded":
            busy.discard(data["step"])
    assert most == 2
    position = {(t, d.get("step")): p for p, t, d in events if t.startswith("Step")}
    for step in outputs:
        assert position["StepSucceeded", step] < position["StepQueued", "after"]


async def test_matrices_past_their_limits_are_refused(stack: Stack) -> None:
    project = await stack.http.post(
        "/api/v1/projects", json={"name": "matrix", "slug": unique_id("m-")[:40]},
        headers=stack.admin,
    )  # fmt: skip
    project_id = project.json()["id"]
    big = {f"a{i}": [1, 2, 3] for i in range(4)}  # 81 instances
    cases = [
        ({"a": list(range(9)), "b": list(range(8))}, "expands into 72 instances, at most 64"),
        (big, "expands into 81 instances"),
        ({"a": [1, 1]}, "a value is listed twice"),
        ({"a": []}, "must be a non-empty list"),
        ({"a": [1], "exclude": [{"b": 1}]}, "'b' is not an axis"),
        ({"a": [1], "exclude": [{"a": 1}]}, "excludes every combination"),
        ({"a": ["x" * 65]}, "of length <= 64"),
        ({"a": [[1]]}, None),
    ]
    for matrix, words in cases:
        body = {"project_id": project_id, "name": "refused",
                "steps": [{"name": "t", "run": "true", "matrix": matrix}]}  # fmt: skip
        answer = await stack.http.post("/api/v1/pipelines", json=body, headers=stack.admin)
        assert answer.status_code == 422, (matrix, answer.text)
        if words is not None:
            assert words in answer.text, answer.text
    labelled = {"name": "t", "run": "true", "labels": ["${{ matrix.os }}"]}
    body = {"project_id": project_id, "name": "refused", "steps": [labelled]}
    answer = await stack.http.post("/api/v1/pipelines", json=body, headers=stack.admin)
    assert answer.status_code == 422 and "this step has no matrix" in answer.text
