"""A runner's bare mirror of each repository its steps check out, so a checkout after the
first fetches only what is new (often nothing) and borrows the objects instead of copying.

One mirror per project and clone URL (`<root>/<sha256>.git`): a project's private objects,
fetched with its token, never serve another project's step. A checkout takes the mirror's
lock (an fcntl lock on a file beside it, so concurrent steps on one runner wait for each
other), fetches the run's sha into the mirror unless it is there (by sha; a server refusing
that gets its branches and tags fetched), keeps it reachable with a ref (the mirror never
garbage-collects), records the step's repository as a borrower (`<root>/<sha256>.borrowers`,
see adapters/runner/mirror_pruning.py) and lets go. The step's repository then borrows the
mirror's objects through `objects/info/alternates` (what `git clone --shared` does) and is
made shallow at the step's `depth` by writing `.git/shallow`, so it sees the history a
`--depth` fetch gives.

A workspace that leaves this runner (uploaded for a dependent elsewhere) is made
self-contained first: `git repack -a -d` copies what it borrows, and the alternates go.
Credentials still reach git only through GIT_ASKPASS (the caller's environment).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

LOCK_POLL_S = 0.05
SHALLOW_DEPTH_MAX = 64
"""Deeper than this (or depth 0) the borrowed history is not cut: the step sees all of it."""

Git = Callable[..., Awaitable[str]]
GitOk = Callable[..., Awaitable[bool]]


def mirror_path(root: Path, project: str, url: str) -> Path:
    digest = hashlib.sha256(f"{project}\n{url}".encode()).hexdigest()[:32]
    return root / f"{digest}.git"


@contextlib.asynccontextmanager
async def locked(mirror: Path) -> AsyncIterator[None]:
    """The mirror to ourselves: other steps of this runner (any process) wait."""
    mirror.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = try_lock(mirror)
        if fd is not None:
            break
        await asyncio.sleep(LOCK_POLL_S)  # polled, so a cancel is never stuck here
    try:
        yield
    finally:
        os.close(fd)  # closing releases the lock


def try_lock(mirror: Path) -> int | None:
    """The mirror's lock (an open descriptor: closing it lets go), or None when another
    holds it. Pruning removes the lock file with the mirror: a lock taken on a file that is
    no longer at its path is let go and not counted."""
    path = mirror.with_suffix(".lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    # Busy (BlockingIOError) or pruned meanwhile (FileNotFoundError): not ours to take.
    with contextlib.suppress(BlockingIOError, FileNotFoundError):
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.fstat(fd).st_ino == os.stat(path).st_ino:
            return fd
    os.close(fd)
    return None


def lend(mirror: Path, repo: Path) -> None:
    """Record (the mirror held locked) that `repo` borrows the mirror's objects from now on,
    and mark the mirror used: pruning keeps a mirror while a repository borrows from it."""
    borrowers = mirror.with_suffix(".borrowers")
    borrowers.mkdir(exist_ok=True)
    digest = hashlib.sha256(str(repo).encode()).hexdigest()[:32]
    (borrowers / digest).write_text(str(repo))
    os.utime(mirror)


def lend_copies(folder: Path) -> int:
    """Record as borrowers the repositories under `folder` (a copied workspace) that borrow
    a mirror's objects; how many."""
    count = 0
    for alternates in folder.rglob(".git/objects/info/alternates"):
        with contextlib.suppress(OSError):  # not one of a mirror's: nothing to record
            objects = Path(alternates.read_text().strip())
            mirror = objects.parent
            if objects.name == "objects" and mirror.with_suffix(".borrowers").is_dir():
                lend(mirror, alternates.parents[3])
                count += 1
    return count


async def fetch_into_mirror(
    git: Git, ok: GitOk, mirror: Path, url: str, sha: str, ref: str | None
) -> bool:
    """The commit `sha` in `mirror` (held locked), fetched only if missing; whether it was."""
    if not (mirror / "HEAD").exists():
        await git("init", "-q", "--bare", str(mirror))
        for key, value in (("gc.auto", "0"), ("maintenance.auto", "false"),
                           ("uploadpack.allowAnySHA1InWant", "true")):  # fmt: skip
            await git("-C", str(mirror), "config", key, value)
    if await ok("-C", str(mirror), "cat-file", "-e", f"{sha}^{{commit}}"):
        return False
    if not await ok("-C", str(mirror), "fetch", "-q", "--no-tags", url, sha):
        refs = [f"+{ref}:refs/remotes/origin/run-ref"] if ref else []
        refs = refs or ["+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"]
        await git("-C", str(mirror), "fetch", "-q", url, *refs)
    full = (await git("-C", str(mirror), "rev-parse", f"{sha}^{{commit}}")).strip()
    await git("-C", str(mirror), "update-ref", f"refs/flowledger/{full}", full)
    return True


async def borrow(git: Git, repo: Path, mirror: Path, sha: str, depth: int) -> None:
    """Let the repository at `repo` (just `git init`ed) use the mirror's objects, cut to
    `depth` generations of history from `sha`."""
    info = repo / ".git" / "objects" / "info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "alternates").write_text(f"{mirror / 'objects'}\n")
    if not 0 < depth <= SHALLOW_DEPTH_MAX:
        return
    full = (await git("rev-parse", f"{sha}^{{commit}}")).strip()
    seen, generation, cut = {full}, [full], []
    for distance in range(depth):
        listed = await git("rev-list", "--no-walk=unsorted", "--parents", *generation)
        parents = {words[0]: words[1:] for words in map(str.split, listed.splitlines()) if words}
        if distance == depth - 1:
            cut = [c for c in generation if parents.get(c)]
            break
        generation = [p for c in generation for p in parents.get(c, []) if p not in seen]
        seen.update(generation)
        if not generation:
            break
    if cut:
        (repo / ".git" / "shallow").write_text("".join(f"{c}\n" for c in sorted(set(cut))))


def make_self_contained(folder: Path) -> int:
    """Every repository under `folder` that borrows objects gets its own copy; how many."""
    count = 0
    for alternates in folder.rglob(".git/objects/info/alternates"):
        repo = alternates.parents[3]
        subprocess.run(
            ["git", "-C", str(repo), "repack", "-a", "-d", "-q"],
            check=True,
            capture_output=True,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
        )
        alternates.unlink()
        count += 1
    return count
