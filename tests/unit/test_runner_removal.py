"""A runner removes a folder in the event loop when it holds little, in a thread otherwise;
either way the whole folder goes, and nothing a link in it points to."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from adapters.runner import removal
from adapters.runner.process import Workspace
from adapters.runner.removal import INLINE_ENTRIES_MAX, holds_few, remove_tree


def _tree(root: Path, files: int) -> Path:
    (root / "a" / "b").mkdir(parents=True)
    for i in range(files):
        (root / "a" / "b" / f"f{i}").write_text("x")
    return root


def test_holds_few_counts_every_entry_through_subfolders(tmp_path: Path) -> None:
    folder = _tree(tmp_path / "t", INLINE_ENTRIES_MAX - 2)  # a, b and the files
    assert holds_few(folder)
    (folder / "a" / "one-more").write_text("x")
    assert not holds_few(folder)


def test_holds_few_of_a_missing_folder_is_true(tmp_path: Path) -> None:
    assert holds_few(tmp_path / "gone")


def test_holds_few_does_not_count_through_links(tmp_path: Path) -> None:
    big = _tree(tmp_path / "big", INLINE_ENTRIES_MAX * 2)
    small = tmp_path / "small"
    small.mkdir()
    (small / "link").symlink_to(big, target_is_directory=True)
    assert holds_few(small)


def _removed_in(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Which thread each rmtree of `removal` ran in: the event loop's or another."""
    where: list[str] = []
    real = removal.shutil.rmtree
    main = threading.get_ident()

    def recording(path: object, ignore_errors: bool = False) -> None:
        where.append("loop" if threading.get_ident() == main else "thread")
        real(path, ignore_errors=ignore_errors)  # type: ignore[arg-type]

    monkeypatch.setattr(removal.shutil, "rmtree", recording)
    return where


def test_a_small_folder_goes_in_the_loop_a_large_one_in_a_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    where = _removed_in(monkeypatch)
    small, large = _tree(tmp_path / "s", 3), _tree(tmp_path / "l", INLINE_ENTRIES_MAX + 1)
    asyncio.run(remove_tree(small))
    asyncio.run(remove_tree(large))
    assert where == ["loop", "thread"]
    assert not small.exists() and not large.exists()


def test_removing_keeps_what_a_link_points_to(tmp_path: Path) -> None:
    outside = _tree(tmp_path / "outside", 2)
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "link").symlink_to(outside, target_is_directory=True)
    asyncio.run(remove_tree(folder))
    assert not folder.exists()
    assert sorted(p.name for p in (outside / "a" / "b").iterdir()) == ["f0", "f1"]


def test_removing_a_missing_folder_is_no_error(tmp_path: Path) -> None:
    asyncio.run(remove_tree(tmp_path / "gone"))


def test_a_workspace_given_its_working_folder_removes_only_its_own(tmp_path: Path) -> None:
    work = tmp_path / "runs" / "s-build"
    work.mkdir(parents=True)
    (work / "made").write_text("kept for the steps that need it")
    workspace = Workspace(tmp_path / "private", "job00001", work)
    assert workspace.work == work
    assert sorted(p.name for p in workspace.root.iterdir()) == ["outputs"]
    asyncio.run(workspace.remove())
    assert not workspace.root.exists()
    assert (work / "made").exists()


def test_a_workspace_without_one_works_in_its_own_folder(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path, "job00002")
    assert workspace.work == workspace.root / "work" and workspace.work.is_dir()
    asyncio.run(workspace.remove())
    assert not workspace.root.exists()
