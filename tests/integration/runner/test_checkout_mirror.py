"""Checkout through the runner's mirror (issue 18, item 1; adapters/runner/git_mirror.py),
with real runners and real git: the first checkout of a repository fetches into the mirror,
later ones fetch nothing (they work with the origin gone), a new commit is fetched, the
step's `depth` still holds, steps checking out at once on one runner share the mirror, and
another project's steps never use it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.integration.runner.files_support import succeeded
from tests.integration.runner.gitrepo import Origin
from tests.integration.runner.stack import Stack, runners

REPORT = (
    'echo "head=$(git rev-parse HEAD)" >> "$FLOWLEDGER_OUTPUT"\n'
    'echo "commits=$(git rev-list --count HEAD)" >> "$FLOWLEDGER_OUTPUT"\n'
    'echo "content=$(cat app.txt)" >> "$FLOWLEDGER_OUTPUT"\n'
    "git fsck --no-progress >/dev/null\n"
)


async def run_at(stack: Stack, pipeline: str, origin_url: str, sha: str) -> str:
    answer = await stack.http.post(
        f"/api/v1/pipelines/{pipeline}/runs",
        json={"repo": "team/app", "ref": "refs/heads/main", "sha": sha, "clone_url": origin_url},
        headers=stack.admin,
    )
    assert answer.status_code == 201, answer.text
    run_id = str(answer.json()["id"])
    assert await succeeded(stack, run_id)
    return run_id


async def outcome(stack: Stack, run_id: str) -> tuple[dict[str, Any], str]:
    """The step's outputs and what its log says about the mirror."""
    events = await stack.events(run_id)
    (done,) = [d for _, t, d in events if t == "StepSucceeded"]
    log = "".join(d["text"] for _, t, d in events if t == "LogChunkAppended")
    said = "fetched" if "fetched into the runner's mirror" in log else "found"
    assert said == "fetched" or "found in the runner's mirror" in log, log
    return done["outputs"], said


async def test_later_checkouts_fetch_nothing_and_the_depth_holds(
    stack: Stack, label: str, tmp_path: Path
) -> None:
    origin = Origin(tmp_path)
    shas = [origin.push({"app.txt": f"v{i}"}, f"c{i}") for i in range(1, 4)]
    pipeline = await stack.pipeline(
        [{"name": "build", "run": REPORT, "labels": [label], "checkout": {"depth": 2}}]
    )
    work = tmp_path / "runner"
    async with runners(stack.runner_config(label, work_dir=work)):
        cold = await run_at(stack, pipeline, origin.url, shas[2])
        warm = await run_at(stack, pipeline, origin.url, shas[2])
        older = await run_at(stack, pipeline, origin.url, shas[1])  # came with the first fetch
        newer_sha = origin.push({"app.txt": "v4"}, "c4")
        newer = await run_at(stack, pipeline, origin.url, newer_sha)
        # The origin gone, a commit the mirror holds still checks out.
        origin.bare.rename(origin.bare.with_name("moved.git"))
        offline = await run_at(stack, pipeline, origin.url, shas[2])

    seen = [await outcome(stack, r) for r in (cold, warm, older, newer, offline)]
    assert [said for _, said in seen] == ["fetched", "found", "found", "fetched", "found"]
    heads = [o["head"] for o, _ in seen]
    assert heads == [shas[2], shas[2], shas[1], newer_sha, shas[2]]
    assert [o["content"] for o, _ in seen] == ["v3", "v3", "v2", "v4", "v3"]
    assert [o["commits"] for o, _ in seen] == ["2", "2", "2", "2", "2"]  # depth: 2
    mirrors = list((work / "flowledger-git-mirrors").glob("*.git"))
    assert len(mirrors) == 1


async def test_steps_checking_out_at_once_share_one_mirror_and_projects_do_not(
    stack: Stack, label: str, tmp_path: Path
) -> None:
    origin = Origin(tmp_path)
    sha = origin.push({"app.txt": "same"}, "one")
    steps = [{"name": "start", "run": "true", "labels": [label]}] + [
        {"name": f"s{i}", "run": REPORT, "labels": [label], "needs": ["start"],
         "workspace": "clean", "checkout": True}
        for i in range(3)
    ]  # fmt: skip
    first, second = await stack.pipeline(steps), await stack.pipeline(steps)  # two projects
    work = tmp_path / "runner"
    async with runners(stack.runner_config(label, work_dir=work, concurrency=4)):
        one = await run_at(stack, first, origin.url, sha)
        other = await run_at(stack, second, origin.url, sha)

    for run_id in (one, other):
        events = await stack.events(run_id)
        log = "".join(d["text"] for _, t, d in events if t == "LogChunkAppended")
        # One of the three fetched; the others waited for the lock, then found the commit.
        assert log.count("fetched into the runner's mirror") == 1, log
        assert log.count("found in the runner's mirror") == 2, log
        outputs = [d["outputs"] for _, t, d in events if t == "StepSucceeded" and d["outputs"]]
        assert [o["head"] for o in outputs] == [sha] * 3
    assert len(list((work / "flowledger-git-mirrors").glob("*.git"))) == 2  # one per project
