"""Concurrency groups end to end: two pushes in one group under each policy, and writers racing."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from adapters.bootstrap import open_services
from commands.context import CommandContext
from commands.dispatch import DISPATCHER, DispatchReady
from domain.concurrency_group import ConcurrencyGroup
from tests.integration.runner.stack import Stack, runners

STEP = (
    'echo "start $FLOWLEDGER_RUN_ID" >> {shared}/trace\n'
    "sleep $FLOWLEDGER_PARAM_pause\n"
    'echo "end $FLOWLEDGER_RUN_ID" >> {shared}/trace\n'
)


async def grouped_pipeline(stack: Stack, label: str, shared: Path, policy: str) -> str:
    answer = await stack.http.post(
        "/api/v1/projects",
        json={"name": "groups", "slug": f"g-{label}"[:40].lower()},
        headers=stack.admin,
    )
    assert answer.status_code == 201, answer.text
    body = {
        "project_id": answer.json()["id"],
        "name": f"deploy {label}",
        "steps": [{"name": "deploy", "run": STEP.format(shared=shared), "labels": [label]}],
        "parameters": [{"name": "pause", "type": "number", "default": 1}],
        "concurrency": {"group": "deploy-${{ branch }}", "policy": policy},
    }
    answer = await stack.http.post("/api/v1/pipelines", json=body, headers=stack.admin)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def push(stack: Stack, pipeline: str, branch: str, **parameters: Any) -> str:
    answer = await stack.http.post(
        f"/api/v1/pipelines/{pipeline}/runs",
        json={"ref": f"refs/heads/{branch}", "parameters": parameters},
        headers=stack.admin,
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def group_of(stack: Stack, run_id: str) -> tuple[UUID, list[tuple[str, dict[str, Any]]]]:
    claimed = next(d for _, t, d in await stack.events(run_id) if t == "RunConcurrencyClaimed")
    group_id = UUID(claimed["group_id"])
    return group_id, [(t, d) for _, t, d in await stack.events(str(group_id))]


def trace(shared: Path) -> list[tuple[str, str]]:
    lines = (shared / "trace").read_text().splitlines()
    return [(edge, run) for edge, run in (line.split() for line in lines)]


async def test_queue_runs_one_push_at_a_time_in_order(
    stack: Stack, label: str, shared: Path
) -> None:
    pipeline = await grouped_pipeline(stack, label, shared, "queue")
    async with runners(stack.runner_config(label, concurrency=3)):
        first = await push(stack, pipeline, "main")
        second = await push(stack, pipeline, "main")
        elsewhere = await push(stack, pipeline, "feature/x", pause=0)
        for run_id in (first, second, elsewhere):
            assert await stack.finished(run_id) == "RunSucceeded"

    order = [(edge, run) for edge, run in trace(shared) if run != elsewhere]
    assert order == [("start", first), ("end", first), ("start", second), ("end", second)]
    _, events = await group_of(stack, second)
    assert [(t, d.get("run_id")) for t, d in events] == [
        ("ConcurrencyGroupOpened", None),
        ("ConcurrencyRunAdmitted", first),
        ("ConcurrencyRunWaiting", second),
        ("ConcurrencyRunReleased", first),
        ("ConcurrencyRunAdmitted", second),
        ("ConcurrencyRunReleased", second),
    ]
    assert events[0][1]["key"] == "deploy-main"
    assert events[2][1]["behind"] == first
    other, _ = await group_of(stack, elsewhere)
    assert other != (await group_of(stack, first))[0]  # deploy-feature/x is a group of its own


async def test_cancel_in_progress_supersedes_the_older_push(
    stack: Stack, label: str, shared: Path
) -> None:
    pipeline = await grouped_pipeline(stack, label, shared, "cancel_in_progress")
    async with runners(stack.runner_config(label, concurrency=2)):
        older = await push(stack, pipeline, "main", pause=60)
        await stack.wait_for_event(older, ("StepStarted",))
        newer = await push(stack, pipeline, "main", pause=0)
        assert await stack.finished(older) == "RunCancelled"
        assert await stack.finished(newer) == "RunSucceeded"

    cancel = next(d for _, t, d in await stack.events(older) if t == "RunCancelRequested")
    assert cancel["reason"] == f"superseded by run {newer} in concurrency group 'deploy-main'"
    assert cancel["actor"] == "dispatcher"
    _, events = await group_of(stack, newer)
    superseded = [d for t, d in events if t == "ConcurrencyRunSuperseded"]
    assert [(d["run_id"], d["by"]) for d in superseded] == [(older, newer)]
    # The newer run started only once the older one had stopped.
    assert trace(shared) == [("start", older), ("start", newer), ("end", newer)]
    kinds = [t for t, _ in events]
    assert kinds.index("ConcurrencyRunReleased") < kinds.index("ConcurrencyRunAdmitted", 2)


async def test_writers_racing_on_one_group_admit_exactly_one_run(
    stack: Stack, label: str, shared: Path
) -> None:
    """Pushes arrive at once while the dispatcher and two more processes' buses (pools of
    their own) join the same runs to the group: the group's stream lets one run in."""
    pipeline = await grouped_pipeline(stack, label, shared, "queue")
    runs = await asyncio.gather(*(push(stack, pipeline, "main") for _ in range(6)))
    database_url = stack.settings.database_url
    assert database_url is not None
    async with contextlib.AsyncExitStack() as exits:
        others = [
            await exits.enter_async_context(open_services(stack.settings, database_url))
            for _ in range(2)
        ]

        async def join(services: Any, run_id: str) -> None:
            context = CommandContext(
                principal=DISPATCHER, at=datetime.now(UTC), correlation_id="race"
            )
            await services.bus.dispatch(DispatchReady(run_id=UUID(run_id)), context)

        await asyncio.gather(*(join(s, r) for s in others for r in runs))

    group_id, _ = await group_of(stack, runs[0])

    async def group() -> ConcurrencyGroup:
        return await stack.services.repository.get(ConcurrencyGroup, group_id)

    state = await group()
    members = [state.holder, *state.waiting]
    assert sorted(str(m) for m in members) == sorted(runs)  # each run in it exactly once
    _, events = await group_of(stack, runs[0])
    assert [t for t, _ in events].count("ConcurrencyRunAdmitted") == 1
    # No runner serves the label: cancelling them lets each next one in, in turn, until none.
    for run_id in runs:
        answer = await stack.http.post(
            f"/api/v1/pipeline-runs/{run_id}/cancel", json={}, headers=stack.admin
        )
        assert answer.status_code == 202, answer.text
    async with asyncio.timeout(60):
        while True:
            state = await group()
            if state.holder is None and not state.waiting:
                break
            await asyncio.sleep(0.1)
    _, events = await group_of(stack, runs[0])
    assert sorted(d["run_id"] for t, d in events if t == "ConcurrencyRunReleased") == sorted(runs)


async def test_bad_groups_are_refused_at_definition_and_at_trigger(
    stack: Stack, label: str
) -> None:
    answer = await stack.http.post(
        "/api/v1/projects", json={"name": "bad groups", "slug": f"b-{label}"[:40].lower()},
        headers=stack.admin,
    )  # fmt: skip
    project_id = answer.json()["id"]
    step = {"name": "s", "run": "true", "labels": [label]}
    cases = [
        ({"group": "deploy-${{ branch"}, "never closed"),
        ({"group": "deploy-${{ success() }}"}, "at character 12"),
        ({"group": "x", "policy": "newest"}, "policy"),
        ({"group": ""}, "group"),
        ({"group": "x" * 201}, "group"),
        ("deploy", "concurrency"),
    ]
    for concurrency, words in cases:
        body = {"project_id": project_id, "name": "bad", "steps": [step],
                "concurrency": concurrency}  # fmt: skip
        answer = await stack.http.post("/api/v1/pipelines", json=body, headers=stack.admin)
        assert answer.status_code == 422, (concurrency, answer.text)
        assert words in answer.text, answer.text
    # A key that renders blank for a run is refused for that run, and nothing is written.
    body = {"project_id": project_id, "name": "blank", "steps": [step],
            "parameters": [{"name": "env", "type": "string"}],
            "concurrency": {"group": "${{ params.env }}"}}  # fmt: skip
    answer = await stack.http.post("/api/v1/pipelines", json=body, headers=stack.admin)
    assert answer.status_code == 201, answer.text
    pipeline = answer.json()["id"]
    answer = await stack.http.post(
        f"/api/v1/pipelines/{pipeline}/runs", json={}, headers=stack.admin
    )
    assert answer.status_code == 422, answer.text
    assert "renders to ''" in answer.text
    answer = await stack.http.post(
        f"/api/v1/pipelines/{pipeline}/runs", json={"parameters": {"env": "prod"}},
        headers=stack.admin,
    )  # fmt: skip
    assert answer.status_code == 201, answer.text
    run_id = answer.json()["id"]
    claimed = [d for _, t, d in await stack.events(run_id) if t == "RunConcurrencyClaimed"]
    assert [(c["key"], c["policy"]) for c in claimed] == [("prod", "queue")]
    await stack.http.post(f"/api/v1/pipeline-runs/{run_id}/cancel", json={}, headers=stack.admin)


async def test_a_step_queues_in_its_own_group_across_runs(
    stack: Stack, label: str, shared: Path
) -> None:
    answer = await stack.http.post(
        "/api/v1/projects", json={"name": "step groups", "slug": f"s-{label}"[:40].lower()},
        headers=stack.admin,
    )  # fmt: skip
    trace_step = 'echo "$FLOWLEDGER_STEP start $FLOWLEDGER_RUN_ID" >> {shared}/trace\n{body}' + (
        'echo "$FLOWLEDGER_STEP end $FLOWLEDGER_RUN_ID" >> {shared}/trace\n'
    )
    deploy = {"name": "deploy", "needs": ["build"], "labels": [label],
              "run": trace_step.format(shared=shared, body="sleep 1\n"),
              "concurrency": {"group": "env-${{ params.target }}"}}  # fmt: skip
    body = {
        "project_id": answer.json()["id"],
        "name": "step groups",
        "parameters": [{"name": "target", "type": "string", "default": "prod"}],
        "steps": [
            {"name": "build", "labels": [label],
             "run": trace_step.format(shared=shared, body="sleep 0.2\n")},
            deploy,
        ],
    }  # fmt: skip
    answer = await stack.http.post("/api/v1/pipelines", json=body, headers=stack.admin)
    assert answer.status_code == 201, answer.text
    pipeline = answer.json()["id"]
    refused = body | {"steps": [body["steps"][0], deploy | {"concurrency": {
        "group": "x", "policy": "cancel_in_progress"}}]}  # fmt: skip
    answer = await stack.http.post("/api/v1/pipelines", json=refused, headers=stack.admin)
    assert answer.status_code == 422 and "only queues" in answer.text, answer.text

    async with runners(stack.runner_config(label, concurrency=4)):
        first, second = await asyncio.gather(stack.trigger(pipeline), stack.trigger(pipeline))
        for run_id in (first, second):
            assert await stack.finished(run_id) == "RunSucceeded"

    lines = [line.split() for line in (shared / "trace").read_text().splitlines()]
    deploys = [(edge, run) for step, edge, run in lines if step == "deploy"]
    # Never two deploys at once: each one ends before the next starts.
    assert [edge for edge, _ in deploys] == ["start", "end", "start", "end"]
    assert deploys[0][1] == deploys[1][1] and deploys[2][1] == deploys[3][1]
    run_plan = next(d for _, t, d in await stack.events(first) if t == "RunRequested")["steps"]
    assert [s["group_key"] for s in run_plan] == ["", "env-prod"]
    admitted = [d for _, t, d in await stack.events(first) if t == "StepConcurrencyAdmitted"]
    assert [d["step"] for d in admitted] == ["deploy"]
    events = [(t, d) for _, t, d in await stack.events(admitted[0]["group_id"])]
    assert events[0][1]["key"] == "step:env-prod"
    kinds = [t for t, _ in events]
    assert kinds == ["ConcurrencyGroupOpened", "ConcurrencyRunAdmitted", "ConcurrencyRunWaiting",
                     "ConcurrencyRunReleased", "ConcurrencyRunAdmitted",
                     "ConcurrencyRunReleased"]  # fmt: skip
