"""Hypothesis strategies for provider payloads: genuine fixtures with their facts pushed past
every limit (refs, shas, numbers, names, moments), as `(kind, event header, body)`."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import strategies as st

from domain import limits
from tests.helpers import WEBHOOK_FIXTURES
from tests.integration.boundary.strategies import ints, junk, maybe, texts


def _fixture(name: str) -> dict[str, Any]:
    return json.loads((WEBHOOK_FIXTURES / name).read_text())


def _with(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """`base` with each `a.b.c` path set (a missing value, `...`, deletes the key)."""
    body = copy.deepcopy(base)
    for path, value in changes.items():
        *parents, last = path.split(".")
        target = body
        for key in parents:
            target = target.setdefault(key, {}) if isinstance(target, dict) else {}
        if not isinstance(target, dict):
            continue
        if value is ...:
            target.pop(last, None)
        else:
            target[last] = value
    return body


def _changes(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {}, optional={path: st.one_of(maybe(s), st.just(...)) for path, s in fields.items()}
    )


def _ref() -> st.SearchStrategy[str]:
    return st.one_of(texts(limits.REF_MAX, 700), texts(limits.REF_MAX).map("refs/heads/{}".format))


def github_push() -> st.SearchStrategy[tuple[str, str, dict[str, Any]]]:
    base = _fixture("github/push.branch-created.json")
    changes = _changes(
        ref=_ref(),
        after=texts(limits.SHA_MAX),
        **{"pusher.name": texts(limits.ACTOR_MAX, 3000), "repository.full_name": texts(600)},
    )
    return changes.map(lambda c: ("github", "push", _with(base, c)))


def github_pull_request() -> st.SearchStrategy[tuple[str, str, dict[str, Any]]]:
    base = _fixture("github/pull_request.opened.json")
    changes = _changes(
        number=ints(1, limits.INT32_MAX),
        **{
            "pull_request.number": ints(1, limits.INT32_MAX),
            "pull_request.head.ref": _ref(),
            "pull_request.base.ref": _ref(),
            "pull_request.head.sha": texts(limits.SHA_MAX),
            "sender.login": texts(limits.ACTOR_MAX, 3000),
        },
    )
    return changes.map(lambda c: ("github", "pull_request", _with(base, c)))


def github_workflow_run() -> st.SearchStrategy[tuple[str, str, dict[str, Any]]]:
    base = _fixture("github/workflow_run.completed.json")
    changes = _changes(
        **{
            "workflow_run.id": ints(1, limits.INT64_MAX),
            "workflow_run.run_attempt": ints(1, 3),
            "workflow_run.conclusion": texts(limits.REASON_MAX, 3000),
            "workflow_run.html_url": texts(limits.URL_MAX).map("https://github.test/{}".format),
            "workflow_run.head_branch": _ref(),
            "workflow_run.run_started_at": texts(),
        }
    )
    return changes.map(lambda c: ("github", "workflow_run", _with(base, c)))


def gitlab_pipeline() -> st.SearchStrategy[tuple[str, str, dict[str, Any]]]:
    base = _fixture("gitlab/pipeline.success.json")
    changes = _changes(
        **{
            "object_attributes.id": ints(1, limits.INT64_MAX),
            "object_attributes.status": st.sampled_from(["success", "failed", "running", "x"]),
            "object_attributes.ref": _ref(),
            "object_attributes.sha": texts(limits.SHA_MAX),
            "object_attributes.url": texts(limits.URL_MAX).map("https://gitlab.test/{}".format),
            "object_attributes.duration": st.one_of(ints(), st.floats(allow_nan=False)),
            "object_attributes.finished_at": texts(),
        }
    )
    return changes.map(lambda c: ("gitlab", "Pipeline Hook", _with(base, c)))


def jenkins_build() -> st.SearchStrategy[tuple[str, str, dict[str, Any]]]:
    base = _fixture("jenkins/notification.completed.json")
    changes = _changes(
        name=texts(limits.KEY_MAX, 3000),
        display_name=texts(limits.NAME_MAX),
        **{
            "build.number": ints(1, limits.INT64_MAX),
            "build.phase": st.sampled_from(["STARTED", "COMPLETED", "FINALIZED", "QUEUED", "?"]),
            "build.status": st.sampled_from(["SUCCESS", "FAILURE", "UNSTABLE", "ABORTED", "?"]),
            "build.timestamp": ints(0, 2**45),
            "build.duration": ints(0, 2**40),
            "build.full_url": texts(limits.URL_MAX).map("https://jenkins.test/{}".format),
            "build.scm.branch": _ref(),
            "build.scm.commit": texts(limits.SHA_MAX),
        },
    )
    return changes.map(lambda c: ("jenkins", "notification", _with(base, c)))


def generic() -> st.SearchStrategy[tuple[str, str, dict[str, Any]]]:
    fields = {
        "type": st.one_of(st.just("deploy"), texts(limits.EVENT_KIND_MAX)),
        "repo": texts(limits.REPO_MAX),
        "ref": _ref(),
        "sha": texts(limits.SHA_MAX),
        "actor": texts(limits.ACTOR_MAX, 3000),
        "data": junk(),
    }
    return _changes(**fields).map(lambda c: ("generic", "generic", _with({"type": "deploy"}, c)))


def deliveries() -> st.SearchStrategy[tuple[str, str, dict[str, Any]]]:
    return st.one_of(
        github_push(),
        github_pull_request(),
        github_workflow_run(),
        gitlab_pipeline(),
        jenkins_build(),
        generic(),
    )
