"""A step's built-in checkout: the run's repository fetched at exactly its sha, before `run`.

`git init` + `git fetch <url> <sha>` (shallow unless `depth: 0`), then a detached checkout of
that sha; a server that refuses a fetch by sha gets a fetch of the run's ref instead (or all
branches and tags), and the sha must be among what came. No prompt ever waits for a password
(GIT_TERMINAL_PROMPT=0), and the URL a log line shows has any user name cut out.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import msgspec

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
    environ: Mapping[str, str] = os.environ,
) -> CheckedOut:
    """Fetch `spec.url` at `spec.sha` into `work/spec.path`; CheckoutFailed if it cannot."""
    if not spec.url:
        raise CheckoutFailed("the run has no repository URL (trigger.repository_url) to check out")
    if not spec.sha or not re.fullmatch(r"[0-9a-fA-F]{7,64}", spec.sha):
        raise CheckoutFailed(f"the run has no commit sha to check out (got {spec.sha!r})")
    started = time.monotonic()
    target = (work / spec.path).resolve() if spec.path else work
    if target != work and work not in target.parents:
        raise CheckoutFailed(f"checkout path {spec.path!r} leaves the working folder")
    target.mkdir(parents=True, exist_ok=True)
    git = _Git(target, environ)
    note(f"checkout {shown(spec.url)} at {spec.sha}" + (f" into {spec.path}" if spec.path else ""))
    await git("init", "-q")
    await git("remote", "add", "origin", spec.url)
    depth = [f"--depth={spec.depth}"] if spec.depth else []
    if not await git.ok("fetch", "-q", "--no-tags", *depth, "origin", spec.sha):
        note("the server refused a fetch by sha: fetching the branches and tags instead")
        refs = [f"+{spec.ref}:refs/remotes/origin/run-ref"] if spec.ref else []
        refs = refs or ["+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"]
        await git("fetch", "-q", "origin", *refs)
    await git("checkout", "-q", "--detach", spec.sha)
    if spec.submodules:
        await git("submodule", "update", "-q", "--init", "--recursive", *depth)
    head = (await git("rev-parse", "HEAD")).strip()
    if not head.lower().startswith(spec.sha.lower()):
        raise CheckoutFailed(f"checked out {head}, not the run's {spec.sha}")
    duration_ms = round((time.monotonic() - started) * 1000)
    note(f"checked out {head} in {duration_ms} ms")
    return CheckedOut(sha=head, duration_ms=duration_ms, path=spec.path)


class _Git:
    def __init__(self, cwd: Path, environ: Mapping[str, str]) -> None:
        self._cwd = cwd
        self._env = {
            **{k: v for k, v in environ.items() if not k.startswith("FLOWLEDGER_")},
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "/bin/false" if Path("/bin/false").exists() else "false",
        }

    async def __call__(self, *args: str) -> str:
        code, out = await self._run(args)
        if code != 0:
            raise CheckoutFailed(f"git {args[0]} failed ({code}): {shown(out[-OUTPUT_TAIL:])}")
        return out

    async def ok(self, *args: str) -> bool:
        code, _ = await self._run(args)
        return code == 0

    async def _run(self, args: tuple[str, ...]) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            "git", *args, cwd=self._cwd, env=self._env,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        try:
            out, _ = await asyncio.wait_for(process.communicate(), GIT_TIMEOUT_S)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise CheckoutFailed(f"git {args[0]} took longer than {GIT_TIMEOUT_S:g}s") from None
        except asyncio.CancelledError:
            process.kill()
            raise
        assert process.returncode is not None
        return process.returncode, out.decode(errors="replace")
