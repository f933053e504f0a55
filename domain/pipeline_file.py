"""A pipeline defined by a file in its repository: where the file is, and what reading it found.

When a push triggers a pipeline that names a `repository_file`, the file is read from the
repository at exactly the pushed sha; a valid file becomes the pipeline's next version (the
run uses it), an invalid one starts no run and its problem is recorded with its place.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Annotated

import msgspec
from msgspec import Meta

from domain.errors import InvalidValue
from domain.limits import REASON_MAX, Reason, Repo, SecretName, Sha, cut

FILE_PATH_MAX = 255


class RepositoryFileSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The pipeline file a push reads from the repository at the pushed sha."""

    path: Annotated[str, Meta(min_length=1, max_length=FILE_PATH_MAX)]
    """Relative to the repository's root, like `.flowledger/pipeline.yaml`."""
    token_secret: SecretName | None = None
    """For a private repository over http(s): the project secret holding an access token. git
    gets it through GIT_ASKPASS, never in a URL, an argument or a log."""
    username: Annotated[str, Meta(max_length=100, pattern=r"^[A-Za-z0-9_.@-]+$")] = "x-access-token"
    """The user name sent with the token (GitHub takes any; GitLab `oauth2` for OAuth tokens)."""

    def check(self, at: str) -> None:
        pure = PurePosixPath(self.path)
        bad = not self.path.strip() or pure.is_absolute() or ".." in pure.parts
        if bad or "\x00" in self.path or "\\" in self.path or ":" in self.path:
            raise InvalidValue(
                f"{at}.path", "a relative path inside the repository, without '..', '\\' or ':'"
            )


class FileOrigin(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Where a pipeline file was read: which repository, at which commit, which path, and the
    webhook delivery whose push asked for it."""

    repository: Repo
    """The repository as the push named it (`owner/name`), else the URL read from."""
    sha: Sha
    path: Annotated[str, Meta(max_length=FILE_PATH_MAX)]
    delivery_id: Annotated[str, Meta(max_length=255)] = ""


class FileProblem(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Why a pipeline file was refused, and where in it (1-based line and column) when known."""

    reason: Reason
    field: Annotated[str, Meta(max_length=500)] = ""
    line: Annotated[int, Meta(ge=1, le=2**31 - 1)] | None = None
    column: Annotated[int, Meta(ge=1, le=2**31 - 1)] | None = None

    def __str__(self) -> str:
        where = f"line {self.line}, column {self.column}: " if self.line is not None else ""
        named = f"{self.field}: " if self.field and self.field not in self.reason else ""
        return f"{where}{named}{self.reason}"


def problem(reason: str, field: str = "", place: tuple[int, int] | None = None) -> FileProblem:
    """A FileProblem, its reason cut to what an event keeps."""
    line, column = place if place is not None else (None, None)
    return FileProblem(reason=cut(reason, REASON_MAX), field=field[:500], line=line, column=column)
