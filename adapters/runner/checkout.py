"""A step's built-in checkout: the run's repository fetched at exactly its sha, before `run`.

`git init` + `git fetch <url> <sha>` (shallow unless `depth: 0`), then a detached checkout of
that sha; a server that refuses a fetch by sha gets a fetch of the run's ref instead (or all
branches and tags), and the sha must be among what came. No prompt ever waits for a password
(GIT_TERMINAL_PROMPT=0), and the URL a log line shows has any user name cut out.

A private repository's token (one of the attempt's secrets, `token_secret`) reaches git only
through GIT_ASKPASS: a script beside the step's folder, not in it, that prints the user name
or the token from its environment. The token is never in the URL, in git's config, in an
argument or in a log line; other credential helpers are switched off for these commands.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import msgspec

from adapters.runner import git_mirror
from adapters.streaming.jobs import JobCheckout

GIT_TIMEOUT_S = 600.0
OUTPUT_TAIL = 2000
_USERINFO = re.compile(r"(?<=://)[^/@]*@")


class CheckoutFailed(Exception):
    """The checkout could not give the step the run's commit; the message says why."""


class CheckedOut(msgspec.Struct, frozen=True, kw_only=True):
    sha: str
    duration_ms: int
    path: str


def shown(url: str) -> str:
    """`url` as a log line may show it: without a user name or anything before an `@`."""
    return _USERINFO.sub("", url)


async def check_out(
    spec: JobCheckout,
    work: Path,
    *,
    note: Callable[[str], None],
    token: str | None = None,
    private: Path | None = None,
    environ: Mapping[str, str] = os.environ,
    mirrors: Path | None = None,
    project: str = "",
) -> CheckedOut:
    """Fetch `spec.url` at `spec.sha` into `work/spec.path`; CheckoutFailed if it cannot.

    With `mirrors` (a runner's folder of mirrors), through the mirror of the project's
    repository there (adapters/runner/git_mirror.py); a folder an earlier step already
    checked out is fetched into directly."""
    if not spec.url:
        raise CheckoutFailed("the run has no repository URL (trigger.repository_url) to check out")
    if not spec.sha or not re.fullmatch(r"[0-9a-fA-F]{7,64}", spec.sha):
        raise CheckoutFailed(f"the run has no commit sha to check out (got {spec.sha!r})")
    started = time.monotonic()
    target = (work / spec.path).resolve() if spec.path else work
    if target != work and work not in target.parents:
        raise CheckoutFailed(f"checkout path {spec.path!r} leaves the working folder")
    target.mkdir(parents=True, exist_ok=True)
    git = Git(target, environ, askpass_env(spec.username, token, private or work.parent))
    note(f"checkout {shown(spec.url)} at {spec.sha}" + (f" into {spec.path}" if spec.path else ""))
    if mirrors is not None and not (target / ".git").exists():
        mirror = git_mirror.mirror_path(mirrors, project, spec.url)
        await _from_mirror(git, spec, target, mirror, note)
    else:
        await _fetch(git, spec, note)
    if spec.submodules:
        await git("submodule", "update", "-q", "--init", "--recursive",
                  *([f"--depth={spec.depth}"] if spec.depth else []))  # fmt: skip
    head = (await git("rev-parse", "HEAD")).strip()
    if not head.lower().startswith(spec.sha.lower()):
        raise CheckoutFailed(f"checked out {head}, not the run's {spec.sha}")
    duration_ms = round((time.monotonic() - started) * 1000)
    note(f"checked out {head} in {duration_ms} ms")
    return CheckedOut(sha=head, duration_ms=duration_ms, path=spec.path)


async def _from_mirror(
    git: Git, spec: JobCheckout, target: Path, mirror: Path, note: Callable[[str], None]
) -> None:
    """The sha from the runner's mirror of the repository (fetched into it if missing),
    its objects borrowed, the history cut at the step's depth."""
    assert spec.url is not None and spec.sha is not None
    async with git_mirror.locked(mirror):
        fetched = await git_mirror.fetch_into_mirror(
            git, git.ok, mirror, spec.url, spec.sha, spec.ref
        )
        git_mirror.lend(mirror, target)  # before letting go: pruning now keeps the mirror
    note(f"{'fetched into' if fetched else 'found in'} the runner's mirror of the repository")
    await git("init", "-q")
    await git("remote", "add", "origin", spec.url)
    await git_mirror.borrow(git, target, mirror, spec.sha, spec.depth)
    await git("checkout", "-q", "--force", "--detach", spec.sha)


async def _fetch(git: Git, spec: JobCheckout, note: Callable[[str], None]) -> None:
    """The sha fetched from the repository straight into the step's folder."""
    assert spec.url is not None and spec.sha is not None
    await git("init", "-q")
    # A workspace an earlier step checked out already has its origin: point it at this URL.
    if not await git.ok("remote", "add", "origin", spec.url):
        await git("remote", "set-url", "origin", spec.url)
    depth = [f"--depth={spec.depth}"] if spec.depth else []
    if not await git.ok("fetch", "-q", "--no-tags", *depth, "origin", spec.sha):
        note("the server refused a fetch by sha: fetching the branches and tags instead")
        refs = [f"+{spec.ref}:refs/remotes/origin/run-ref"] if spec.ref else []
        refs = refs or ["+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"]
        await git("fetch", "-q", "origin", *refs)
    await git("checkout", "-q", "--force", "--detach", spec.sha)


ASKPASS = """#!/bin/sh
case "$1" in
  Username*) printf '%s\\n' "$FLOWLEDGER_GIT_USERNAME" ;;
  *) printf '%s\\n' "$FLOWLEDGER_GIT_TOKEN" ;;
esac
"""


def askpass_env(username: str, token: str | None, folder: Path) -> dict[str, str]:
    """git's environment for credentials: a refusing GIT_ASKPASS, or one that gives `token`."""
    if token is None:
        return {"GIT_ASKPASS": "false"}
    script = folder / "git-askpass.sh"
    script.write_text(ASKPASS)
    script.chmod(0o700)
    return {
        "GIT_ASKPASS": str(script),
        "FLOWLEDGER_GIT_USERNAME": username,
        "FLOWLEDGER_GIT_TOKEN": token,
        # Ask GIT_ASKPASS only: no helper of the runner's user answers, or stores the token.
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "credential.helper",
        "GIT_CONFIG_VALUE_0": "",
    }


class Git:
    """git in `cwd`, never prompting, with only the credentials given (`askpass_env`); a
    failure or a run past `timeout_s` is CheckoutFailed, its output without user names."""

    def __init__(
        self,
        cwd: Path,
        environ: Mapping[str, str],
        credentials: dict[str, str],
        *,
        timeout_s: float = GIT_TIMEOUT_S,
    ) -> None:
        self._cwd = cwd
        self._timeout_s = timeout_s
        self._env = {
            **{k: v for k, v in environ.items() if not k.startswith("FLOWLEDGER_")},
            "GIT_TERMINAL_PROMPT": "0",
            **credentials,
        }

    async def __call__(self, *args: str) -> str:
        code, out = await self._run(args)
        if code != 0:
            raise CheckoutFailed(f"git {args[0]} failed ({code}): {shown(out[-OUTPUT_TAIL:])}")
        return out

    async def ok(self, *args: str) -> bool:
        code, _ = await self._run(args)
        return code == 0

    async def raw(self, *args: str) -> bytes:
        """The command's standard output as bytes (a file's content), its errors apart."""
        code, out = await self._run(args, apart=True)
        if code != 0:
            raise CheckoutFailed(f"git {args[0]} failed ({code})")
        return out

    async def _run(self, args: tuple[str, ...], *, apart: bool = False) -> tuple[int, Any]:
        process = await asyncio.create_subprocess_exec(
            "git", *args, cwd=self._cwd, env=self._env,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL if apart else asyncio.subprocess.STDOUT,
        )  # fmt: skip
        try:
            out, _ = await asyncio.wait_for(process.communicate(), self._timeout_s)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise CheckoutFailed(f"git {args[0]} took longer than {self._timeout_s:g}s") from None
        except asyncio.CancelledError:
            process.kill()
            raise
        assert process.returncode is not None
        return process.returncode, out if apart else out.decode(errors="replace")
