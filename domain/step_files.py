"""What a step keeps and takes: artifacts, downloads, a cache and its workspace, and their rules.

A step's `artifacts` (paths or globs in its workspace) make one artifact named after the step;
a later step of the same run names that step in `download` to get it first. `cache` restores
paths before the step and saves them after, under a key (`domain/cache_keys.py`). A step sees
the workspace the steps it needs left, unless it declares `workspace: clean`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Literal, Protocol

import msgspec
from msgspec import Meta

from domain.cache_keys import KEY_TEMPLATE_MAX, parse_key
from domain.errors import InvalidValue
from domain.limits import ARTIFACT_PATHS_MAX, GLOB_MAX, RETENTION_DAYS_MAX, Glob, clean

WorkspaceMode = Literal["inherit", "clean"]
Paths = Annotated[tuple[Glob, ...], Meta(max_length=ARTIFACT_PATHS_MAX)]
CacheKeyTemplate = Annotated[str, Meta(min_length=1, max_length=KEY_TEMPLATE_MAX)]
_GLOB_CHARS = frozenset("*?[")
RESTORE_KEYS_MAX = 16


class CacheSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`key` names the entry (it may hash files); `paths` are what is restored and saved."""

    key: CacheKeyTemplate
    paths: Paths
    restore_keys: Annotated[tuple[CacheKeyTemplate, ...], Meta(max_length=RESTORE_KEYS_MAX)] = ()
    """Prefixes tried in order when `key` itself has no entry (GitHub's `restore-keys`): the
    newest entry whose key starts with one is restored, and the step saves under `key`."""


class FileSpec(Protocol):
    """The StepSpec fields checked here."""

    name: str
    artifacts: tuple[str, ...]
    download: tuple[str, ...]
    cache: CacheSpec | None
    workspace: str
    artifact_retention_days: int


def check_step_files(step: FileSpec, at: str) -> None:
    """InvalidValue, under `at`, for the first rule the step's file fields break."""
    if getattr(step, "kind", "run") != "run" and (step.artifacts or step.download or step.cache):
        raise InvalidValue(
            f"{at}.kind", "only a step that runs has artifacts, downloads or a cache"
        )
    _paths(step.artifacts, f"{at}.artifacts")
    if len(step.download) > ARTIFACT_PATHS_MAX:
        raise InvalidValue(f"{at}.download", f"at most {ARTIFACT_PATHS_MAX} names")
    if len(set(step.download)) != len(step.download):
        raise InvalidValue(f"{at}.download", "a name is listed twice")
    if step.name in step.download:
        raise InvalidValue(f"{at}.download", "a step cannot download its own artifact")
    if step.cache is not None:
        if not step.cache.paths:
            raise InvalidValue(f"{at}.cache.paths", "a cache needs at least one path")
        _paths(step.cache.paths, f"{at}.cache.paths")
        parse_key(step.cache.key, f"{at}.cache.key")
        for i, prefix in enumerate(step.cache.restore_keys):
            parse_key(prefix, f"{at}.cache.restore_keys[{i}]")
    if step.workspace not in ("inherit", "clean"):
        raise InvalidValue(f"{at}.workspace", "must be inherit or clean")
    days = step.artifact_retention_days
    if isinstance(days, bool) or not 1 <= days <= RETENTION_DAYS_MAX:
        raise InvalidValue(f"{at}.artifact_retention_days", f"from 1 to {RETENTION_DAYS_MAX}")


def check_downloads(
    steps: Sequence[FileSpec], needs: Mapping[str, tuple[str, ...]], at: str = "steps"
) -> None:
    """Each download names a step that uploads an artifact and runs before (a needs ancestor)."""
    uploads = {step.name for step in steps if step.artifacts}
    for i, step in enumerate(steps):
        before = ancestors(step.name, needs)
        for name in step.download:
            if name not in uploads:
                raise InvalidValue(f"{at}[{i}].download", f"{name!r}: no step of that name uploads")
            if name not in before:
                raise InvalidValue(
                    f"{at}[{i}].download",
                    f"{name!r} is not among the steps {step.name!r} needs, so it may not have run",
                )


def ancestors(step: str, needs: Mapping[str, tuple[str, ...]]) -> set[str]:
    """Every step `step` waits for, directly or through others."""
    found: set[str] = set()
    todo = list(needs.get(step, ()))
    while todo:
        name = todo.pop()
        if name not in found:
            found.add(name)
            todo.extend(needs.get(name, ()))
    return found


def is_plain_path(pattern: str) -> bool:
    """No glob characters: the pattern names one path."""
    return not _GLOB_CHARS & set(pattern)


def _paths(patterns: tuple[str, ...], field: str) -> None:
    if len(patterns) > ARTIFACT_PATHS_MAX:
        raise InvalidValue(field, f"at most {ARTIFACT_PATHS_MAX} paths or globs")
    if len(set(patterns)) != len(patterns):
        raise InvalidValue(field, "a path is listed twice")
    for pattern in patterns:
        clean(field, pattern)
        if not pattern or len(pattern) > GLOB_MAX:
            raise InvalidValue(field, f"{pattern!r}: 1-{GLOB_MAX} characters")
        if pattern.startswith(("/", "~")) or "\\" in pattern:
            raise InvalidValue(field, f"{pattern!r}: must be relative to the workspace")
        if ".." in pattern.split("/"):
            raise InvalidValue(field, f"{pattern!r}: must stay inside the workspace (no '..')")
