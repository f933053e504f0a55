"""Every fixture payload parses to the facts it means; edge cases from provider docs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest

from commands.webhook_payloads import (
    Backflow,
    Custom,
    DeliveryFacts,
    Ignored,
    Job,
    PullRequest,
    Push,
    UnreadablePayload,
    parse_delivery,
)
from domain.run_statuses import ExternalStatus as S
from domain.run_statuses import Provider
from tests.helpers import WEBHOOK_FIXTURES

FIXTURES = WEBHOOK_FIXTURES
GITLAB_EVENTS = {
    "push": "Push Hook",
    "tag_push": "Tag Push Hook",
    "merge_request": "Merge Request Hook",
    "pipeline": "Pipeline Hook",
    "job": "Job Hook",
}
GH_SHA = "3484a3fb816e0859fd6e1cea078d76385ff50625"
PR_SHA = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
GH_RUN_URL = "https://github.com/octo-org/octo-repo/actions/runs/289782451"
GH_JOB_RUN_URL = "https://github.com/Codertocat/Hello-World/actions/runs/2202229078"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def opened_pr(action: str) -> PullRequest:
    return PullRequest(
        kind="pull_request",
        repo="Codertocat/Hello-World",
        ref="refs/heads/changes",
        base_ref="refs/heads/master",
        sha=PR_SHA,
        number=2,
        action=action,
        actor="Codertocat",
        clone_url="https://github.com/Codertocat/Hello-World.git",
    )


def workflow_run(status: S, finished_at: datetime | None) -> Backflow:
    return Backflow(
        kind="workflow_run",
        provider=Provider.GITHUB_ACTIONS,
        external_id="289782451",
        url=GH_RUN_URL,
        status=status,
        name="test",
        ref="refs/heads/master",
        sha=GH_SHA,
        started_at=at("2020-10-05T16:33:49"),
        finished_at=finished_at,
    )


def workflow_job(status: S, job: Job) -> Backflow:
    return Backflow(
        kind="workflow_run",
        provider=Provider.GITHUB_ACTIONS,
        external_id="2202229078",
        url=GH_JOB_RUN_URL,
        status=status,
        name="CodeQL",
        ref="refs/heads/main",
        sha=GH_SHA,
        job=job,
    )


EXPECTED: dict[str, DeliveryFacts] = {
    "github/push.branch-created.json": Push(
        repo="Codertocat/Hello-World",
        ref="refs/heads/master",
        sha="6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        actor="Codertocat",
        clone_url="https://github.com/Codertocat/Hello-World.git",
    ),
    "github/push.tag-deleted.json": Ignored(reason="deleted ref refs/tags/simple-tag"),
    "github/pull_request.opened.json": opened_pr("opened"),
    "github/pull_request.synchronize.json": opened_pr("synchronize"),
    "github/pull_request.closed.json": Ignored(
        reason="pull_request closed: only opened, synchronize, reopened"
    ),
    "github/ping.json": Ignored(reason="ping: GitHub checking the hook"),
    "github/check_suite.requested.json": Ignored(
        reason="github event 'check_suite' starts or updates no run"
    ),
    "github/check_suite.completed.json": Ignored(
        reason="github event 'check_suite' starts or updates no run"
    ),
    "github/workflow_run.requested.json": workflow_run(S.QUEUED, None),
    "github/workflow_run.completed.json": workflow_run(S.SUCCEEDED, at("2020-10-05T16:33:49")),
    "github/workflow_job.queued.json": workflow_job(S.QUEUED, Job(name="update", status=S.QUEUED)),
    # A finished job says its run is under way, not that the run is over.
    "github/workflow_job.completed.success.json": workflow_job(
        S.RUNNING, Job(name="linters", status=S.SUCCEEDED)
    ),
    "gitlab/push.json": Push(
        repo="mike/diaspora",
        ref="refs/heads/master",
        sha="da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
        actor="jsmith",
        clone_url="http://example.com/mike/diaspora.git",
    ),
    "gitlab/tag_push.json": Push(
        repo="jsmith/example",
        ref="refs/tags/v1.0.0",
        sha="82b3d5ae55f7080f1e6022629cdb57bfae7cccc7",
        actor="John Smith",
        clone_url="http://example.com/jsmith/example.git",
    ),
    "gitlab/merge_request.open.json": PullRequest(
        kind="merge_request",
        repo="gitlabhq/gitlab-test",
        ref="refs/heads/ms-viewport",
        base_ref="refs/heads/master",
        sha="da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
        number=1,
        action="open",
        actor="root",
        clone_url="http://example.com/gitlabhq/gitlab-test.git",
    ),
    "gitlab/pipeline.success.json": Backflow(
        kind="pipeline",
        provider=Provider.GITLAB,
        external_id="31",
        url="http://example.com/gitlab-org/gitlab-test/-/pipelines/31",
        status=S.SUCCEEDED,
        name="Pipeline for branch: master",
        ref="refs/heads/master",
        sha="bcbb5ec396a2c0f828686f14fac9b80b780504f2",
        started_at=at("2016-08-12T15:25:26"),  # finished_at minus its 63 s duration
        finished_at=at("2016-08-12T15:26:29"),
    ),
    # `commit.status` is the pipeline's own status: still running.
    "gitlab/job.success.json": Backflow(
        kind="pipeline",
        provider=Provider.GITLAB,
        external_id="743121198",
        url="https://gitlab.com/jsmithy2/release-tools-fake/-/pipelines/743121198",
        status=S.RUNNING,
        name="Build pipeline",
        ref="refs/heads/main",
        sha="95d49d1efbd941908580e79d65e4b5ecaf4a8305",
        job=Job(name="auto_deploy:start", status=S.SUCCEEDED),
    ),
    "jenkins/notification.completed.json": Backflow(
        kind="build",
        provider=Provider.JENKINS,
        external_id="asgard#18",
        url="http://localhost:8080/job/asgard/18/",
        status=S.SUCCEEDED,
        name="asgard",
        ref="refs/heads/master",
        sha="c6d86dc654b12425e706bcf951adfe5a8627a517",
    ),
    # STARTED: running, whatever status the plugin's example carries; "JobUrl" is no URL.
    "jenkins/notification.started.json": Backflow(
        kind="build",
        provider=Provider.JENKINS,
        external_id="JobName#1",
        url=None,
        status=S.RUNNING,
        name="JobName",
    ),
}


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def event_of(name: str) -> tuple[str, str]:
    """The source kind and the event header value a real delivery of this file carries."""
    kind, file = name.split("/")
    stem = file.split(".")[0]
    return kind, {"github": stem, "gitlab": GITLAB_EVENTS.get(stem, ""), "jenkins": "notification"}[
        kind
    ]


def test_every_fixture_is_covered() -> None:
    files = {f"{p.parent.name}/{p.name}" for p in FIXTURES.glob("*/*.json")}
    assert files == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_fixture_parses_to_its_facts(name: str) -> None:
    kind, event = event_of(name)
    assert parse_delivery(kind, event, fixture(name)) == EXPECTED[name]


def test_event_kinds_follow_one_vocabulary() -> None:
    kinds = {name: facts.kind for name, facts in EXPECTED.items() if not isinstance(facts, Ignored)}
    assert kinds["github/push.branch-created.json"] == "push"
    assert kinds["gitlab/push.json"] == "push"
    assert kinds["gitlab/tag_push.json"] == "tag_push"
    assert kinds["github/pull_request.opened.json"] == "pull_request"
    assert kinds["gitlab/merge_request.open.json"] == "merge_request"
    assert {kinds[n] for n in kinds if n.startswith("github/workflow")} == {"workflow_run"}
    assert kinds["gitlab/pipeline.success.json"] == kinds["gitlab/job.success.json"] == "pipeline"
    assert kinds["jenkins/notification.completed.json"] == "build"


def test_a_github_tag_push_is_a_tag_push() -> None:
    body = json.loads(fixture("github/push.branch-created.json"))
    body.update(ref="refs/tags/v2.0.0")
    facts = parse_delivery("github", "push", json.dumps(body))
    assert isinstance(facts, Push) and facts.kind == "tag_push"


def test_a_form_encoded_github_delivery_reads_its_payload_field() -> None:
    form = urlencode({"payload": fixture("github/push.branch-created.json")})
    facts = parse_delivery("github", "push", form, content_type="application/x-www-form-urlencoded")
    assert facts == EXPECTED["github/push.branch-created.json"]


def test_a_github_rerun_is_a_run_of_its_own() -> None:
    body = json.loads(fixture("github/workflow_run.requested.json"))
    body["workflow_run"]["run_attempt"] = 2
    facts = parse_delivery("github", "workflow_run", json.dumps(body))
    assert isinstance(facts, Backflow) and facts.external_id == "289782451/attempt/2"


@pytest.mark.parametrize(
    ("status", "conclusion", "expected", "detail"),
    [
        ("in_progress", None, S.RUNNING, ""),
        ("waiting", None, S.QUEUED, ""),
        ("completed", "failure", S.FAILED, ""),
        ("completed", "cancelled", S.CANCELLED, ""),
        ("completed", "timed_out", S.TIMED_OUT, ""),
        ("completed", "startup_failure", S.FAILED, "conclusion startup_failure"),
        ("completed", "skipped", S.CANCELLED, "conclusion skipped"),
        ("completed", "neutral", S.SUCCEEDED, "conclusion neutral"),
    ],
)
def test_github_status_and_conclusion_map_to_a_run_status(
    status: str, conclusion: str | None, expected: S, detail: str
) -> None:
    body = json.loads(fixture("github/workflow_run.completed.json"))
    body["workflow_run"].update(status=status, conclusion=conclusion)
    facts = parse_delivery("github", "workflow_run", json.dumps(body))
    assert isinstance(facts, Backflow)
    assert (facts.status, facts.detail) == (expected, detail)


def test_a_pull_request_reopened_triggers() -> None:
    body = json.loads(fixture("github/pull_request.closed.json"))
    body["action"] = "reopened"
    assert parse_delivery("github", "pull_request", json.dumps(body)) == opened_pr("reopened")


def test_a_gitlab_branch_deletion_is_ignored() -> None:
    body = json.loads(fixture("gitlab/push.json"))
    body.update(after="0" * 40, checkout_sha=None)
    facts = parse_delivery("gitlab", "Push Hook", json.dumps(body))
    assert facts == Ignored(reason="deleted ref refs/heads/master")


def test_a_gitlab_system_hook_is_read_by_its_object_kind() -> None:
    facts = parse_delivery("gitlab", "System Hook", fixture("gitlab/push.json"))
    assert facts == EXPECTED["gitlab/push.json"]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"action": "update", "oldrev": "a" * 40}, "update"),
        ({"action": "reopen"}, "reopen"),
        ({"action": "update"}, "merge_request update without new commits"),
        ({"action": "merge"}, "merge_request merge: only open, update, reopen"),
        ({"action": "close"}, "merge_request close: only open, update, reopen"),
    ],
)
def test_gitlab_merge_request_actions(changes: dict[str, str], expected: str) -> None:
    body = json.loads(fixture("gitlab/merge_request.open.json"))
    body["object_attributes"].update(changes)
    facts = parse_delivery("gitlab", "Merge Request Hook", json.dumps(body))
    if isinstance(facts, PullRequest):
        assert facts.action == expected
    else:
        assert facts == Ignored(reason=expected)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("pending", S.QUEUED),
        ("running", S.RUNNING),
        ("failed", S.FAILED),
        ("canceled", S.CANCELLED),
    ],
)
def test_gitlab_pipeline_statuses(status: str, expected: S) -> None:
    body = json.loads(fixture("gitlab/pipeline.success.json"))
    body["object_attributes"]["status"] = status
    facts = parse_delivery("gitlab", "Pipeline Hook", json.dumps(body))
    assert isinstance(facts, Backflow) and facts.status is expected


@pytest.mark.parametrize(
    ("phase", "status", "expected", "detail"),
    [
        ("QUEUED", None, S.QUEUED, ""),
        ("STARTED", None, S.RUNNING, ""),
        ("COMPLETED", "FAILURE", S.FAILED, ""),
        ("COMPLETED", "UNSTABLE", S.FAILED, "unstable"),
        ("COMPLETED", "ABORTED", S.CANCELLED, "aborted"),
        ("FINALIZED", "SUCCESS", S.SUCCEEDED, ""),
        ("FINISHED", "SUCCESS", S.SUCCEEDED, ""),
    ],
)
def test_jenkins_phases(phase: str, status: str | None, expected: S, detail: str) -> None:
    body = json.loads(fixture("jenkins/notification.completed.json"))
    body["build"].update(phase=phase, status=status, timestamp=1_700_000_000_000, duration=5000)
    facts = parse_delivery("jenkins", "notification", json.dumps(body))
    assert isinstance(facts, Backflow)
    assert (facts.status, facts.detail, facts.external_id) == (expected, detail, "asgard#18")
    assert facts.started_at == datetime.fromtimestamp(1_700_000_000, UTC)
    ended = phase in ("COMPLETED", "FINALIZED", "FINISHED")
    assert facts.finished_at == (datetime.fromtimestamp(1_700_000_005, UTC) if ended else None)


def test_a_jenkins_build_that_ended_without_a_status_is_ignored() -> None:
    body = json.loads(fixture("jenkins/notification.completed.json"))
    del body["build"]["status"]
    facts = parse_delivery("jenkins", "notification", json.dumps(body))
    assert facts == Ignored(reason="jenkins build asgard #18 completed without a known status")


def test_a_generic_delivery_names_its_own_kind() -> None:
    body = {"type": "deploy", "data": {"repo": "org/app", "ref": "refs/heads/main", "sha": "abc"}}
    assert parse_delivery("generic", "deploy", json.dumps(body)) == Custom(
        kind="deploy", repo="org/app", ref="refs/heads/main", sha="abc"
    )
    assert parse_delivery("generic", "generic", "{}") == Ignored(
        reason="generic delivery without a type"
    )


@pytest.mark.parametrize(
    ("kind", "event", "body"),
    [
        ("github", "push", "not json"),
        ("github", "push", '{"after": "abc"}'),
        ("github", "pull_request", '{"action": "opened", "pull_request": {"head": 1}}'),
        ("gitlab", "Pipeline Hook", '{"object_attributes": {"status": "running"}}'),
        ("jenkins", "notification", '{"name": "x", "build": {"phase": "STARTED"}}'),
    ],
)
def test_a_body_that_is_not_what_its_event_promises_is_unreadable(
    kind: str, event: str, body: str
) -> None:
    with pytest.raises(UnreadablePayload):
        parse_delivery(kind, event, body)
