"""Pruning a runner's repository mirrors (adapters/runner/mirror_pruning.py), with real git
checkouts through them: a mirror a checkout holds locked, or a workspace still borrows from,
is never removed; one unused past the age limit is; past the size cap the least recently
used go first; a checkout after pruning clones the repository again and works."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from pathlib import Path

from adapters.runner import git_mirror
from adapters.runner.checkout import check_out
from adapters.runner.files.packing import copy_folder
from adapters.runner.mirror_pruning import SETTLING_S, mirrors, prune, prune_forever
from adapters.streaming.jobs import JobCheckout
from tests.integration.runner.gitrepo import Origin, git

DAY = 86400.0


async def checkout(origin: Origin, sha: str, work: Path, mirrors_root: Path, project: str) -> str:
    """A step's checkout of `sha` into `work` through the mirrors; what it said of the mirror."""
    notes: list[str] = []
    spec = JobCheckout(url=origin.url, sha=sha, depth=0)
    done = await check_out(spec, work, note=notes.append, mirrors=mirrors_root, project=project)
    assert done.sha == sha
    git(work, "fsck", "--no-progress")
    return next(note for note in notes if "runner's mirror" in note)


def an_origin(tmp_path: Path) -> Origin:
    (tmp_path / "origin").mkdir()
    return Origin(tmp_path / "origin")


def age(mirror: Path, seconds: float) -> None:
    """Make the mirror (and its borrower records) look last used `seconds` ago."""
    then = time.time() - seconds
    os.utime(mirror, (then, then))
    borrowers = mirror.with_suffix(".borrowers")
    for record in borrowers.iterdir() if borrowers.exists() else ():
        os.utime(record, (then, then))


def prune_now(root: Path, *, max_age_s: float = 7 * DAY, max_bytes: int = 0) -> list[Path]:
    return prune(root, max_age_s=max_age_s, max_bytes=max_bytes, now=time.time())


async def test_an_old_mirror_goes_unless_a_checkout_holds_it_and_comes_back_when_needed(
    tmp_path: Path,
) -> None:
    origin = an_origin(tmp_path)
    sha = origin.push({"app.txt": "v1"}, "c1")
    root = tmp_path / "mirrors"
    said = await checkout(origin, sha, tmp_path / "step-1", root, "p1")
    assert said.startswith("fetched into")
    shutil.rmtree(tmp_path / "step-1")  # the step's workspace is gone: nothing borrows
    [mirror] = [m.path for m in mirrors(root)]

    assert prune_now(root) == []  # used just now
    age(mirror, 8 * DAY)
    async with git_mirror.locked(mirror):  # a checkout fetching into it
        assert prune_now(root) == []
        assert (mirror / "HEAD").exists()
    assert prune_now(root) == [mirror]
    assert not mirror.exists()
    assert not mirror.with_suffix(".lock").exists()
    assert not mirror.with_suffix(".borrowers").exists()

    said = await checkout(origin, sha, tmp_path / "step-2", root, "p1")
    assert said.startswith("fetched into")  # cloned afresh
    assert (mirror / "HEAD").exists()
    assert git(tmp_path / "step-2", "show", "HEAD:app.txt") == "v1"


async def test_a_mirror_a_workspace_still_borrows_from_is_kept(tmp_path: Path) -> None:
    origin = an_origin(tmp_path)
    sha = origin.push({"app.txt": "v1"}, "c1")
    root = tmp_path / "mirrors"
    await checkout(origin, sha, tmp_path / "kept", root, "p1")
    await checkout(origin, sha, tmp_path / "gone", root, "p1")
    shutil.rmtree(tmp_path / "gone")
    [mirror] = [m.path for m in mirrors(root)]
    age(mirror, 30 * DAY)

    assert prune_now(root, max_bytes=1) == []  # too old and too big, but borrowed
    assert git(tmp_path / "kept", "log", "-1", "--format=%H") == sha
    git(tmp_path / "kept", "fsck", "--no-progress")
    # The workspace that went no longer counts; its record is gone.
    assert len(list(mirror.with_suffix(".borrowers").iterdir())) == 1

    git_mirror.make_self_contained(tmp_path / "kept")  # as before leaving for another runner
    assert prune_now(root) == [mirror]
    git(tmp_path / "kept", "fsck", "--no-progress")


async def test_a_workspace_copied_for_a_dependent_keeps_the_mirror_too(tmp_path: Path) -> None:
    origin = an_origin(tmp_path)
    sha = origin.push({"app.txt": "v1"}, "c1")
    root = tmp_path / "mirrors"
    await checkout(origin, sha, tmp_path / "run-1" / "s-build", root, "p1")
    copy_folder(tmp_path / "run-1" / "s-build", tmp_path / "run-2" / "s-test")
    assert git_mirror.lend_copies(tmp_path / "run-2" / "s-test") == 1
    shutil.rmtree(tmp_path / "run-1")  # the first run ended; the copy lives on
    [mirror] = [m.path for m in mirrors(root)]
    age(mirror, 30 * DAY)

    assert prune_now(root) == []
    git(tmp_path / "run-2" / "s-test", "fsck", "--no-progress")
    shutil.rmtree(tmp_path / "run-2")
    assert prune_now(root) == [mirror]


async def test_a_fresh_borrower_record_holds_the_mirror_before_its_alternates_exist(
    tmp_path: Path,
) -> None:
    root = tmp_path / "mirrors"
    mirror = root / "m.git"
    mirror.mkdir(parents=True)
    async with git_mirror.locked(mirror):
        git_mirror.lend(mirror, tmp_path / "being-checked-out")
    then = time.time() - 30 * DAY
    os.utime(mirror, (then, then))
    assert prune_now(root) == []
    assert prune(root, max_age_s=DAY, max_bytes=0, now=time.time() + SETTLING_S + 1) == [mirror]


async def test_past_the_size_cap_the_least_recently_used_go_first(tmp_path: Path) -> None:
    origin = an_origin(tmp_path)
    sha = origin.push({"app.txt": "x" * 50_000}, "big")
    root = tmp_path / "mirrors"
    for project in ("p1", "p2", "p3"):
        await checkout(origin, sha, tmp_path / project, root, project)
        shutil.rmtree(tmp_path / project)
    found = {m.path: m.size for m in mirrors(root)}
    assert len(found) == 3
    by_project = {p: git_mirror.mirror_path(root, p, origin.url) for p in ("p1", "p2", "p3")}
    # Used: p2 three hours ago, p3 two hours ago, p1 an hour ago.
    for hours, project in ((3, "p2"), (2, "p3"), (1, "p1")):
        age(by_project[project], hours * 3600)
    total = sum(found.values())

    assert prune_now(root, max_bytes=total) == []  # at the cap, not past it
    assert prune_now(root, max_bytes=total - 1) == [by_project["p2"]]
    async with git_mirror.locked(by_project["p3"]):  # busy: skipped, the next one goes
        assert prune_now(root, max_bytes=found[by_project["p1"]]) == [by_project["p1"]]
    assert [m.path for m in mirrors(root)] == [by_project["p3"]]


async def test_pruning_runs_at_once_then_periodically(tmp_path: Path) -> None:
    root = tmp_path / "mirrors"
    first, later = root / "first.git", root / "later.git"
    for mirror in (first, later):
        mirror.mkdir(parents=True)
        (mirror / "HEAD").write_text("ref: refs/heads/main\n")
    age(first, 2 * DAY)
    stop = asyncio.Event()
    pruning = asyncio.create_task(
        prune_forever(root, max_age_s=DAY, max_bytes=0, every_s=0.2, stop=stop)
    )
    try:
        for _ in range(100):
            if not first.exists():
                break
            await asyncio.sleep(0.05)
        assert not first.exists() and later.exists()
        age(later, 2 * DAY)
        for _ in range(100):
            if not later.exists():
                break
            await asyncio.sleep(0.05)
        assert not later.exists()
    finally:
        stop.set()
        await asyncio.wait_for(pruning, 5)
