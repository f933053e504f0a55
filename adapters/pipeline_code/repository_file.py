"""Reads a pipeline's `repository_file` at one commit: git, then the file format's checks.

A short-lived bare repository in a temporary folder fetches only that commit
(`--depth=1 --filter=blob:none`: its trees, and only the one blob asked for when the server
filters; a server that does not filter sends the commit's blobs, which works too), then
`git cat-file` reads the file. It reuses the runner's checkout git (`adapters/runner/checkout`):
no prompt, credentials only through GIT_ASKPASS from the project's secret, never in a URL,
an argument or a log line. A server refusing a fetch by sha gets a fetch of the pushed ref.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from uuid import UUID

import asyncpg
import msgspec

from adapters.pipeline_code.document import PipelineFile, definition_of
from adapters.pipeline_code.yaml_text import YAML_MAX_BYTES, YamlRefused, load_yaml, path_in
from adapters.runner.checkout import CheckoutFailed, Git, askpass_env, shown
from adapters.secrets.vault import reveal
from commands.pipeline_files import FileRead
from domain.errors import InvalidValue
from domain.pipeline_file import FileProblem, RepositoryFileSpec, problem

READ_TIMEOUT_S = 60.0
"""A git command reading a pipeline file: the intake waits for it before its next delivery."""


class GitRepositoryFiles:
    """The intake's `RepositoryFiles` port: git against the push's repository URL."""

    def __init__(self, pool: asyncpg.Pool, *, timeout_s: float = READ_TIMEOUT_S) -> None:
        self._pool = pool
        self._timeout_s = timeout_s

    async def __call__(
        self,
        *,
        pipeline_id: UUID,
        project_id: UUID,
        spec: RepositoryFileSpec,
        url: str,
        ref: str | None,
        sha: str,
    ) -> FileRead | FileProblem:
        token = None
        if spec.token_secret is not None:
            found = await reveal(self._pool, str(project_id), spec.token_secret)
            if found is None:
                return problem(f"no value for the token secret {spec.token_secret}")
            token = found.value
        try:
            text = await self._read(spec, url, ref, sha, token)
        except CheckoutFailed as error:
            return problem(f"could not read it from {shown(url)}: {error}")
        return parse(text, pipeline_id, project_id)

    async def _read(
        self, spec: RepositoryFileSpec, url: str, ref: str | None, sha: str, token: str | None
    ) -> bytes:
        with tempfile.TemporaryDirectory(prefix="flowledger-file-") as folder:
            bare = Path(folder) / "repo.git"
            bare.mkdir()
            credentials = askpass_env(spec.username, token, Path(folder))
            git = Git(bare, os.environ, credentials, timeout_s=self._timeout_s)
            await git("init", "-q", "--bare")
            await git("remote", "add", "origin", url)
            # A partial clone's settings: a filtered fetch needs them, lazy blob reads use them.
            await git("config", "extensions.partialClone", "origin")
            await git("config", "remote.origin.promisor", "true")
            fetch = ("fetch", "-q", "--no-tags", "--filter=blob:none")
            if not await git.ok(*fetch, "--depth=1", "origin", sha):
                if not ref:
                    raise CheckoutFailed(f"the server refused a fetch of {sha}")
                await git(*fetch, "origin", f"+{ref}:refs/pushed")
            blob = f"{sha}:{spec.path}"
            if not await git.ok("cat-file", "-e", blob):
                raise CheckoutFailed(f"{spec.path} is not in the commit {sha}")
            kind = (await git("cat-file", "-t", blob)).strip()
            if kind != "blob":
                raise CheckoutFailed(f"{spec.path} is a {kind} in {sha}, not a file")
            size = int((await git("cat-file", "-s", blob)).strip())
            if size > YAML_MAX_BYTES:
                raise CheckoutFailed(f"{spec.path} is {size} bytes: at most {YAML_MAX_BYTES}")
            return await git.raw("cat-file", "blob", blob)


def parse(text: bytes, pipeline_id: UUID, project_id: UUID) -> FileRead | FileProblem:
    """The file's definition with its places, or its first problem, placed."""
    try:
        loaded = load_yaml(text)
    except YamlRefused as error:
        place = None if error.line is None else (error.line, error.column or 1)
        return problem(error.reason, place=place)
    try:
        document = msgspec.convert(loaded.data, PipelineFile)
    except msgspec.ValidationError as error:
        field = path_in(str(error)) or ""
        return problem(str(error), field, loaded.place(field))
    if document.id not in (None, pipeline_id):
        return problem("`id` is not this pipeline's: omit it", "id", loaded.place("id"))
    if document.project_id not in (None, project_id):
        return problem(
            "`project_id` is not this pipeline's project: omit it",
            "project_id",
            loaded.place("project_id"),
        )
    definition = definition_of(document)
    try:
        definition.validated()
    except InvalidValue as error:
        return problem(error.reason, error.field, loaded.place(error.field))
    return FileRead(definition=definition, places=loaded.places)
