"""Cache `restore_keys` through real runners and the real NATS object store (issue 18, item
4), with GitHub's order (docs.github.com, "Caching dependencies to speed up workflows",
"Cache hits and misses" / "Matching a cache key"): the exact key, then each restore key as a
prefix (the newest entry that starts with it), on the run's branch, then the same on the
default branch. Each decision is recorded on the run: which key matched, by which prefix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.integration.runner.files_support import succeeded
from tests.integration.runner.stack import Stack, runners

# The lock file's content comes from the run's parameter, so each run can change the key.
# A step before the cached one writes the lock file: the key is evaluated before the step.
PREPARE = {"name": "prepare", "run": 'echo "$FLOWLEDGER_PARAM_lock" > deps.lock'}
STEP = (
    'if [ -f .deps/made ]; then echo "reused $(cat .deps/made)" >> {shared}/install\n'
    "else echo fresh >> {shared}/install; fi\n"
    'mkdir -p .deps && echo "$FLOWLEDGER_PARAM_lock" > .deps/made\n'
)
PARAMETERS = [{"name": "lock", "type": "string", "default": "v1"}]


async def run_with(stack: Stack, pipeline: str, branch: str, lock: str) -> str:
    answer = await stack.http.post(
        f"/api/v1/pipelines/{pipeline}/runs",
        json={"ref": f"refs/heads/{branch}", "parameters": {"lock": lock}},
        headers=stack.admin,
    )
    assert answer.status_code == 201, answer.text
    run_id = str(answer.json()["id"])
    assert await succeeded(stack, run_id)
    return run_id


async def restored(stack: Stack, run_id: str) -> dict[str, Any]:
    (found,) = [d for _, t, d in await stack.events(run_id) if t == "CacheRestored"]
    return found


async def test_restore_keys_find_the_newest_prefix_match_on_the_branch_then_the_default(
    stack: Stack, label: str, shared: Path
) -> None:
    cache = {
        "key": "deps-${{ hashFiles('deps.lock') }}",
        "paths": [".deps"],
        "restore_keys": ["nothing-", "deps-"],
    }
    pipeline = await stack.pipeline(
        [{**PREPARE, "labels": [label]},
         {"name": "install", "run": STEP.format(shared=shared), "labels": [label],
          "cache": cache}],
        parameters=PARAMETERS,
    )  # fmt: skip
    async with runners(stack.runner_config(label)):
        first = await run_with(stack, pipeline, "main", "v1")  # miss: saves deps-<v1>
        exact = await run_with(stack, pipeline, "main", "v1")  # exact hit: saves nothing
        second = await run_with(stack, pipeline, "main", "v2")  # prefix hit: saves deps-<v2>
        third = await run_with(stack, pipeline, "main", "v3")  # newest prefix match: v2's
        other = await run_with(stack, pipeline, "feature/y", "v9")  # main's newest: v3's

    assert (shared / "install").read_text().splitlines() == [
        "fresh", "reused v1", "reused v1", "reused v2", "reused v3",
    ]  # fmt: skip
    miss = await restored(stack, first)
    assert (miss["hit"], miss["matched_key"], miss["restore_key"]) == (False, "", "")
    hit = await restored(stack, exact)
    assert (hit["hit"], hit["exact"], hit["restore_key"]) == (True, True, "")
    assert hit["matched_key"] == hit["key"] == miss["key"]
    events = await stack.events(exact)
    assert not [d for _, t, d in events if t == "CacheSaved"]

    by_prefix = await restored(stack, second)
    assert (by_prefix["hit"], by_prefix["exact"]) == (True, False)
    assert by_prefix["restore_key"] == "deps-"
    assert by_prefix["matched_key"] == miss["key"] != by_prefix["key"]
    assert by_prefix["branch"] == "main"
    (saved,) = [d for _, t, d in await stack.events(second) if t == "CacheSaved"]
    assert saved["key"] == by_prefix["key"]  # saved under its own key, for next time

    newest = await restored(stack, third)
    assert newest["matched_key"] == by_prefix["key"]  # v2's, saved after v1's

    fallback = await restored(stack, other)
    assert (fallback["branch"], fallback["restore_key"]) == ("main", "deps-")
    assert fallback["exact"] is False
    third_saved = [d for _, t, d in await stack.events(third) if t == "CacheSaved"]
    assert fallback["matched_key"] == third_saved[0]["key"]


async def test_the_branchs_own_prefix_match_wins_over_the_default_branchs_exact_key(
    stack: Stack, label: str, shared: Path
) -> None:
    cache = {"key": "deps-${{ hashFiles('deps.lock') }}", "paths": [".deps"],
             "restore_keys": ["deps-"]}  # fmt: skip
    pipeline = await stack.pipeline(
        [{**PREPARE, "labels": [label]},
         {"name": "install", "run": STEP.format(shared=shared), "labels": [label],
          "cache": cache}],
        parameters=PARAMETERS,
    )  # fmt: skip
    async with runners(stack.runner_config(label)):
        await run_with(stack, pipeline, "main", "v1")
        await run_with(stack, pipeline, "topic", "v2")  # main's by prefix; saves topic's v2
        again = await run_with(stack, pipeline, "topic", "v1")  # topic's v2 by prefix

    found = await restored(stack, again)
    assert (found["branch"], found["restore_key"]) == ("topic", "deps-")
    assert (shared / "install").read_text().splitlines() == ["fresh", "reused v1", "reused v2"]


async def test_bad_restore_keys_are_refused(stack: Stack, label: str) -> None:
    project = await stack.http.post(
        "/api/v1/projects", json={"name": "rk", "slug": f"rk-{label}"[:40]}, headers=stack.admin
    )
    for restore_keys, field in (
        (["deps-${{ other() }}"], "steps[0].cache.restore_keys[0]"),
        (["ok-", ""], "restore_keys"),
        (["a b"], "steps[0].cache.restore_keys[0]"),
        ([f"k{i}-" for i in range(17)], "restore_keys"),
    ):
        body = {
            "project_id": project.json()["id"], "name": f"p-{label}"[:40],
            "steps": [{"name": "a", "run": "true",
                       "cache": {"key": "k", "paths": ["x"], "restore_keys": restore_keys}}],
        }  # fmt: skip
        answer = await stack.http.post("/api/v1/pipelines", json=body, headers=stack.admin)
        assert answer.status_code == 422, (restore_keys, answer.text)
        assert field in answer.text, answer.text
