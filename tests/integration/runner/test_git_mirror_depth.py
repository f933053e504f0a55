"""A checkout borrowing the mirror's objects sees exactly the history `git clone --depth N`
gives (the reference), merges included; and a repository made self-contained for another
runner keeps working once the mirror is gone."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from adapters.runner import git_mirror
from tests.integration.runner.gitrepo import GIT_ENV, Origin, git


async def _git(cwd: Path, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        "git", *args, cwd=cwd, env=GIT_ENV, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()


def history(repo: Path) -> list[str]:
    return sorted(git(repo, "rev-list", "HEAD").split())


@pytest.fixture
def merged(tmp_path: Path) -> tuple[Origin, str]:
    """main: a - b - c - M(c, y) - d, with a side branch x - y forked at a."""
    origin = Origin(tmp_path)
    for name in ("a", "b", "c"):
        origin.push({"app.txt": name}, name)
    git(origin.work, "checkout", "-q", "-b", "side", "HEAD~2")
    for name in ("x", "y"):
        (origin.work / f"{name}.txt").write_text(name)
        git(origin.work, "add", "-A")
        git(origin.work, "commit", "-q", "-m", name)
    git(origin.work, "checkout", "-q", "main")
    git(origin.work, "merge", "-q", "--no-edit", "side")
    return origin, origin.push({"app.txt": "d"}, "d")


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5, 9, 0])
async def test_the_borrowed_history_is_what_a_shallow_clone_gives(
    merged: tuple[Origin, str], tmp_path: Path, depth: int
) -> None:
    origin, sha = merged
    mirror = tmp_path / "mirrors" / "m.git"
    mirror.parent.mkdir()

    async def run(*args: str) -> str:
        return await _git(tmp_path, *args)

    async def ok(*args: str) -> bool:
        process = await asyncio.create_subprocess_exec(
            "git", *args, cwd=tmp_path, env=GIT_ENV, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        return await process.wait() == 0

    async with git_mirror.locked(mirror):
        assert await git_mirror.fetch_into_mirror(run, ok, mirror, origin.url, sha, None)
        assert not await git_mirror.fetch_into_mirror(run, ok, mirror, origin.url, sha, None)
    step = tmp_path / "step"
    step.mkdir()
    await _git(step, "init", "-q")

    async def in_step(*args: str) -> str:
        return await _git(step, *args)

    await git_mirror.borrow(in_step, step, mirror, sha, depth)
    await _git(step, "checkout", "-q", "--detach", sha)
    reference = tmp_path / "reference"
    depth_args = ["--depth", str(depth)] if depth else []
    git(tmp_path, "clone", "-q", *depth_args, origin.url, str(reference))
    assert history(step) == history(reference)

    # Made self-contained (as before a workspace upload), it works without the mirror.
    assert git_mirror.make_self_contained(tmp_path / "step") == 1
    shutil.rmtree(mirror)
    assert history(step) == history(reference)
    git(step, "fsck", "--no-progress")


def test_each_project_has_its_own_mirror_of_a_url(tmp_path: Path) -> None:
    url = "https://git.example.com/team/app.git"
    one, other = (git_mirror.mirror_path(tmp_path, p, url) for p in ("p1", "p2"))
    assert one != other and one.parent == other.parent == tmp_path
    assert git_mirror.mirror_path(tmp_path, "p1", url) == one
