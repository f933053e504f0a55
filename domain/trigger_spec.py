"""Which deliveries start a pipeline: a trigger's source, event kinds, ref globs and schedule."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated, Literal, get_args

import msgspec
from msgspec import Meta

from domain.definition_checks import check_keywords, check_unique
from domain.errors import InvalidValue
from domain.limits import (
    GLOB_MAX,
    ITEMS_MAX,
    CronText,
    Glob,
    Identifier,
    Keyword,
    ParamScalar,
    ScheduleName,
    TimeZoneName,
)
from domain.trigger_schedule import check_schedule_fields

TriggerSource = Literal["github", "gitlab", "jenkins", "generic", "schedule", "manual", "api"]
CatchUp = Literal["skip", "last"]

EVENT_KINDS = {
    "push": "commits pushed to a branch: GitHub `push` to refs/heads/*, GitLab Push Hook",
    "tag_push": "a tag pushed: GitHub `push` to refs/tags/*, GitLab Tag Push Hook",
    "pull_request": "a pull/merge request opened, reopened or given new commits: GitHub "
    "`pull_request` (opened, synchronize, reopened); also matches GitLab merge requests",
    "merge_request": "GitLab Merge Request Hook (open, reopen, update with new commits); also "
    "matches GitHub pull requests",
    "workflow_run": "GitHub `workflow_run` / `workflow_job`: mirrors a GitHub Actions run",
    "pipeline": "GitLab Pipeline Hook / Job Hook: mirrors a GitLab CI pipeline",
    "build": "a Jenkins notification (every phase): mirrors a Jenkins build",
}
"""The words `TriggerSpec.events` takes for github, gitlab and jenkins sources (a generic
source names its own kinds in each delivery's `type`); the OpenAPI shows them as an enum."""

_ITEMS = Meta(max_length=ITEMS_MAX)
# As in fnmatch, `[!...]` negates a set and a `]` first in a set is literal.
_GLOB_TOKEN = re.compile(r"\*\*/|\*\*|\*|\?|\[!?\]?[^\]]*\]|.", re.DOTALL)


class TriggerSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Which deliveries start the pipeline: a source, event kinds and ref globs (empty: any).

    As in GitHub Actions, `events: ["push"]` with `tags` also runs for pushed tags that match
    them (a tag push is the kind `tag_push`; a `push` trigger without `tags` never sees one).
    """

    source: TriggerSource
    events: Annotated[tuple[Keyword, ...], _ITEMS] = ()
    branches: Annotated[tuple[Glob, ...], _ITEMS] = ()
    tags: Annotated[tuple[Glob, ...], _ITEMS] = ()
    cron: CronText = ""
    """A `schedule` trigger's cron expression: five fields, or `@hourly`, `@daily`, ..."""
    timezone: TimeZoneName = "UTC"
    """The IANA zone the cron expression is read in (`Europe/Berlin`): DST is followed."""
    parameters: Annotated[dict[Identifier, ParamScalar], _ITEMS] = {}
    """The parameters a scheduled run is given."""
    active: bool = True
    """A schedule that is not active never fires."""
    catch_up: CatchUp = "skip"
    """After downtime: `skip` the missed slots, or run the `last` one of them."""
    schedule: ScheduleName = ""
    """The schedule's name, part of each fired run's identity; empty: its cron and zone."""

    def check(self, at: str) -> None:
        """Raise InvalidValue, under the field path `at`, for the first rule it breaks."""
        if self.source not in get_args(TriggerSource):
            raise InvalidValue(
                f"{at}.source", f"must be one of {', '.join(get_args(TriggerSource))}"
            )
        check_schedule_fields(self, at)
        check_keywords(self.events, f"{at}.events", "event kind")
        for field, patterns in (("branches", self.branches), ("tags", self.tags)):
            check_unique(patterns, f"{at}.{field}", "pattern")
            for pattern in patterns:
                _check_glob(pattern, f"{at}.{field}")

    def matches(self, source: str, event: str, ref: str | None) -> bool:
        """Whether a delivery of kind `event` from `source` on `ref` starts the pipeline.

        `ref` is `refs/heads/<branch>` or `refs/tags/<tag>` (for a pull request, the branch
        it targets). Globs match the short name: `*` and `?` stay within a `/` segment, `**`
        crosses segments. With neither branches nor tags any ref (or none) matches; with only
        one of them, a ref of the other kind never does, as in GitHub Actions: a trigger on
        tags `v*` ignores pushes to branches.
        """
        kinds = self.events
        if "push" in kinds and self.tags:
            kinds = (*kinds, "tag_push")  # GitHub's `on: push: tags:` is how tags are asked for
        if source != self.source or (kinds and event not in kinds):
            return False
        if not (self.branches or self.tags):
            return True
        for prefix, patterns in (("refs/heads/", self.branches), ("refs/tags/", self.tags)):
            if ref is not None and ref.startswith(prefix):
                name = ref.removeprefix(prefix)
                return any(_glob(p).fullmatch(name) for p in patterns)
        return False


@lru_cache(maxsize=1024)
def _glob(pattern: str) -> re.Pattern[str]:
    """`pattern` as a regex: `*`, `?` and `[...]` stay within a segment; `**` crosses `/`."""
    out = []
    for token in _GLOB_TOKEN.findall(pattern):
        match token:
            case "**/":
                out.append("(?:.*/)?")
            case "**":
                out.append(".*")
            case "*":
                out.append("[^/]*")
            case "?":
                out.append("[^/]")
            case "[":
                raise ValueError("'[' is never closed")
            case _ if len(token) > 1:
                negated = token.startswith("[!")
                body = "".join(c if c == "-" else re.escape(c) for c in token[1 + negated : -1])
                out.append(f"[^/{body}]" if negated else f"[{body}]")
            case _:
                out.append(re.escape(token))
    return re.compile("".join(out))


def _check_glob(pattern: str, field: str) -> None:
    if not pattern or len(pattern) > GLOB_MAX or any(c.isspace() for c in pattern):
        raise InvalidValue(field, f"{pattern!r}: must be 1-{GLOB_MAX} characters without spaces")
    if pattern.startswith("refs/"):
        raise InvalidValue(field, f"{pattern!r}: match the short name (main), not refs/heads/main")
    try:
        _glob(pattern)
    except (ValueError, re.error) as e:
        raise InvalidValue(field, f"{pattern!r}: {e}") from None
