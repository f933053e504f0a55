"""The intake over a real database: genuine deliveries become the right runs, once, in reach."""

from __future__ import annotations

from adapters.store.reader import read_stream_current
from adapters.webhooks.intake import received
from commands.pipelines import DeactivatePipeline
from commands.webhook_intake import Candidate, WebhookIntake
from domain.run_statuses import Provider, RunStatus, TriggerKind
from domain.trigger_spec import TriggerSpec
from tests.integration.webhooks.intake_world import (  # noqa: F401  (the `world` fixture)
    World,
    world_fixture,
)

PUSH = "github/push.branch-created.json"
PUSH_SHA = "6113728f27ae82c7b1a177c8d03f9e96e0adf246"


def github(*events: str, branches: tuple[str, ...] = (), tags: tuple[str, ...] = ()) -> TriggerSpec:
    return TriggerSpec(source="github", events=events, branches=branches, tags=tags)


def gitlab(*events: str, branches: tuple[str, ...] = (), tags: tuple[str, ...] = ()) -> TriggerSpec:
    return TriggerSpec(source="gitlab", events=events, branches=branches, tags=tags)


async def test_a_push_to_a_matching_branch_starts_exactly_that_pipeline(world: World) -> None:
    project = await world.project()
    source = await world.source(project, "github")
    main = await world.pipeline(project, github("push", branches=("master",)), name="main")
    await world.pipeline(project, github("push", branches=("feature/*",)), name="features")
    await world.pipeline(project, github("pull_request"), name="prs")
    await world.pipeline(project, gitlab("push", branches=("master",)), name="on-gitlab")
    idle = await world.pipeline(project, github("push"), name="idle")
    await world.send(DeactivatePipeline(pipeline_id=idle))

    envelope = await world.deliver(source, project, PUSH)
    outcome = await world.handle(envelope)

    assert outcome.outcome == "triggered" and len(outcome.runs) == 1, outcome.reason
    run = await world.run(outcome.runs[0])
    assert run.pipeline_id == main
    t = run.trigger
    assert (t.kind, t.repo, t.ref, t.sha, t.event) == (
        TriggerKind.WEBHOOK,
        "Codertocat/Hello-World",
        "refs/heads/master",
        PUSH_SHA,
        "push",
    )
    assert t.delivery_id == envelope.data["delivery_id"]
    # The committer is a person: the aggregate holds the name sealed, readers see it opened.
    assert t.actor.startswith("pii:v1:")
    requested = (await read_stream_current(world.services.store.pool, str(run.id)))[0]
    assert requested.data["trigger"]["actor"] == requested.metadata.actor == "Codertocat"
    assert requested.metadata.causation_id == str(envelope.event_id)
    recorded = await world.delivery(envelope)
    assert (recorded.outcome, recorded.runs) == ("triggered", outcome.runs)


async def test_a_push_no_pipeline_wants_starts_nothing_and_says_why(world: World) -> None:
    project = await world.project()
    source = await world.source(project, "github")
    await world.pipeline(project, github("push", branches=("main", "release/*")))

    envelope = await world.deliver(source, project, PUSH, ref="refs/heads/docs")
    outcome = await world.handle(envelope)

    assert (outcome.outcome, outcome.runs) == ("ignored", ())
    assert outcome.reason == "no active pipeline triggers on github push on refs/heads/docs"
    assert (await world.delivery(envelope)).reason == outcome.reason


async def test_a_pull_request_opened_triggers_and_closed_is_ignored(world: World) -> None:
    project = await world.project()
    source = await world.source(project, "github")
    prs = await world.pipeline(project, github("pull_request", branches=("master",)))
    await world.pipeline(project, github("push"), name="pushes")

    opened = await world.handle(
        await world.deliver(source, project, "github/pull_request.opened.json")
    )
    closed = await world.handle(
        await world.deliver(source, project, "github/pull_request.closed.json")
    )

    assert opened.outcome == "triggered" and len(opened.runs) == 1
    run = await world.run(opened.runs[0])
    assert run.pipeline_id == prs
    assert (run.trigger.ref, run.trigger.pull_request, run.trigger.event) == (
        "refs/heads/changes",
        2,
        "pull_request",
    )
    assert (closed.outcome, closed.runs) == ("ignored", ())
    assert "closed" in closed.reason


async def test_tags_start_tag_pipelines_and_branches_branch_pipelines(world: World) -> None:
    project = await world.project()
    source = await world.source(project, "github")
    branches = await world.pipeline(project, github("push", branches=("**",)), name="b")
    releases = await world.pipeline(project, github("tag_push", tags=("v*",)), name="r")

    tag = await world.handle(await world.deliver(source, project, PUSH, ref="refs/tags/v1.2.0"))
    branch = await world.handle(await world.deliver(source, project, PUSH))
    other = await world.handle(await world.deliver(source, project, PUSH, ref="refs/tags/nightly"))

    assert [(await world.run(r)).pipeline_id for r in tag.runs] == [releases]
    assert (await world.run(tag.runs[0])).trigger.event == "tag_push"
    assert [(await world.run(r)).pipeline_id for r in branch.runs] == [branches]
    assert other.outcome == "ignored"


async def test_gitlab_push_tag_and_merge_request(world: World) -> None:
    project = await world.project()
    source = await world.source(project, "gitlab")
    pushes = await world.pipeline(project, gitlab("push", branches=("master",)), name="push")
    tags = await world.pipeline(project, gitlab("tag_push", tags=("v*",)), name="tags")
    mrs = await world.pipeline(project, gitlab("merge_request", branches=("master",)), name="mr")
    # One vocabulary: a trigger on pull_request also hears GitLab's merge requests.
    prs = await world.pipeline(project, gitlab("pull_request"), name="pr")
    await world.pipeline(project, github("push"), name="github-only")

    push = await world.handle(await world.deliver(source, project, "gitlab/push.json"))
    tag = await world.handle(await world.deliver(source, project, "gitlab/tag_push.json"))
    mr = await world.handle(await world.deliver(source, project, "gitlab/merge_request.open.json"))

    assert [(await world.run(r)).pipeline_id for r in push.runs] == [pushes]
    assert await world.actor(push.runs[0]) == "jsmith"
    assert [(await world.run(r)).pipeline_id for r in tag.runs] == [tags]
    assert {(await world.run(r)).pipeline_id for r in mr.runs} == {mrs, prs}
    run = await world.run(mr.runs[0])
    assert (run.trigger.ref, run.trigger.pull_request, await world.actor(run.id)) == (
        "refs/heads/ms-viewport",
        1,
        "root",
    )


async def test_workflow_run_requested_then_completed_mirrors_one_run(world: World) -> None:
    project = await world.project()
    source = await world.source(project, "github")
    await world.pipeline(project, github("push"), name="builds")  # not a mirror: no backflow kind
    mirror = await world.pipeline(project, github("workflow_run"), name="actions")

    requested = await world.handle(
        await world.deliver(source, project, "github/workflow_run.requested.json")
    )
    job = await world.handle(
        await world.deliver(source, project, "github/workflow_job.queued.json")
    )
    completed = await world.handle(
        await world.deliver(source, project, "github/workflow_run.completed.json")
    )

    assert requested.outcome == "triggered" and requested.runs == completed.runs
    assert completed.outcome == "updated"
    run = await world.run(requested.runs[0])
    assert run.pipeline_id == mirror and run.status is RunStatus.SUCCEEDED
    assert run.external is not None
    assert (run.external.provider, run.external.external_id) == (
        Provider.GITHUB_ACTIONS,
        "289782451",
    )
    assert run.external.url == "https://github.com/octo-org/octo-repo/actions/runs/289782451"
    # The job hook is about another workflow run: a mirror of its own.
    assert job.outcome == "triggered" and job.runs != requested.runs


async def test_a_late_in_progress_never_overwrites_completed(world: World) -> None:
    project = await world.project()
    source = await world.source(project, "github")
    await world.pipeline(project, github("workflow_run"))
    name = "github/workflow_run.requested.json"

    completed = await world.handle(
        await world.deliver(source, project, "github/workflow_run.completed.json")
    )
    late = await world.handle(await world.deliver(source, project, name))
    running = await world.handle(
        await world.deliver(source, project, name, workflow_run__status="in_progress")
    )

    assert completed.outcome == "triggered"
    assert (await world.run(completed.runs[0])).status is RunStatus.SUCCEEDED
    for stale in (late, running):
        assert (stale.outcome, stale.runs) == ("ignored", completed.runs)
        assert stale.reason.startswith("stale: ")


async def test_jenkins_started_then_completed_then_finalized(world: World) -> None:
    project = await world.project()
    source = await world.source(project, "jenkins")
    await world.pipeline(project, TriggerSpec(source="jenkins", events=("build",)))
    name = "jenkins/notification.completed.json"

    started = await world.handle(
        await world.deliver(source, project, name, build__phase="STARTED", build__status=None)
    )
    assert (await world.run(started.runs[0])).status is RunStatus.RUNNING
    completed = await world.handle(await world.deliver(source, project, name))
    finalized = await world.handle(
        await world.deliver(source, project, name, build__phase="FINALIZED")
    )

    assert [started.outcome, completed.outcome, finalized.outcome] == [
        "triggered",
        "updated",
        "ignored",
    ]
    assert started.runs == completed.runs == finalized.runs
    assert (await world.run(started.runs[0])).status is RunStatus.SUCCEEDED
    # The plugin's own STARTED example names no build URL: nothing to mirror yet.
    bare = await world.handle(
        await world.deliver(source, project, "jenkins/notification.started.json")
    )
    assert (bare.outcome, bare.reason) == (
        "ignored",
        "jenkins run JobName#1 came without an absolute URL",
    )


async def test_backflow_no_pipeline_mirrors_is_ignored(world: World) -> None:
    project = await world.project()
    source = await world.source(project, "gitlab")
    await world.pipeline(project, gitlab())  # every GitLab event, but mirrors nothing

    outcome = await world.handle(
        await world.deliver(source, project, "gitlab/pipeline.success.json")
    )

    assert (outcome.outcome, outcome.runs) == ("ignored", ())
    assert outcome.reason == "no pipeline mirrors gitlab pipeline: gitlab run 31"


async def test_processing_a_delivery_again_writes_nothing_new(world: World) -> None:
    project = await world.project()
    source = await world.source(project, "github")
    await world.pipeline(project, github("push"), name="a")
    await world.pipeline(project, github("push"), name="b")
    envelope = await world.deliver(source, project, PUSH)
    first = await world.handle(envelope)
    before = await world.tagged_events()

    # The outcome is recorded: a replayed batch skips it.
    again = await world.handle(envelope)
    # A crash before the outcome was recorded: every command runs again, keyed as before.
    intake = WebhookIntake(
        world.services.bus.dispatch, world.services.repository, world.process.candidates
    )
    replayed = await intake.decide(received(envelope), at=world.tick())

    assert len(first.runs) == 2
    assert again == first
    assert (replayed.outcome, replayed.runs) == ("triggered", first.runs)
    assert await world.tagged_events() == before


async def test_a_source_cannot_start_another_projects_pipeline(world: World) -> None:
    ours, theirs = await world.project(), await world.project()
    source = await world.source(ours, "github")
    foreign = await world.pipeline(theirs, github("push", branches=("master",)))
    envelope = await world.deliver(source, ours, PUSH)

    outcome = await world.handle(envelope)
    assert (outcome.outcome, outcome.runs) == ("ignored", ())

    # Even handed the other project's pipeline, the command refuses: write on ours only.
    async def rogue(_project: object, *, position: int) -> list[Candidate]:
        triggers = (github("push", branches=("master",)),)
        return [Candidate(pipeline_id=foreign, name="theirs", active=True, triggers=triggers)]

    before = await world.tagged_events()
    intake = WebhookIntake(world.services.bus.dispatch, world.services.repository, rogue)
    refused = await intake.decide(received(envelope), at=world.tick())

    assert (refused.outcome, refused.runs) == ("failed", ())
    # Told as an unknown pipeline: the other project is not named, nor its existence told.
    assert f"pipeline {foreign} not found" in refused.reason
    assert str(theirs) not in refused.reason
    assert await world.tagged_events() == before


async def test_an_unreadable_body_is_recorded_as_failed(world: World) -> None:
    project = await world.project()
    source = await world.source(project, "github")
    envelope = await world.deliver(source, project, PUSH, body='{"after": "abc"}')

    outcome = await world.handle(envelope)

    assert outcome.outcome == "failed" and "ref" in outcome.reason
    assert (await world.delivery(envelope)).outcome == "failed"


async def test_a_github_style_push_rule_with_tags_runs_for_a_tag(world: World) -> None:
    # `on: push: tags: [v*]` in GitHub Actions; here {"events": ["push"], "tags": ["v*"]}.
    project = await world.project()
    source = await world.source(project, "github")
    releases = await world.pipeline(project, github("push", tags=("v*",)), name="gh-style")

    tag = await world.handle(await world.deliver(source, project, PUSH, ref="refs/tags/v2.0.0"))
    branch = await world.handle(await world.deliver(source, project, PUSH))

    assert [(await world.run(r)).pipeline_id for r in tag.runs] == [releases]
    assert branch.outcome == "ignored"


async def test_a_run_records_where_to_fetch_what_it_builds(world: World) -> None:
    project = await world.project()
    source = await world.source(project, "github")
    await world.pipeline(project, github("push"), name="pushes")
    await world.pipeline(project, github("pull_request"), name="prs")

    pushed = await world.handle(await world.deliver(source, project, PUSH))
    opened = await world.handle(
        await world.deliver(source, project, "github/pull_request.opened.json")
    )

    push, pr = await world.run(pushed.runs[0]), await world.run(opened.runs[0])
    clone_url = "https://github.com/Codertocat/Hello-World.git"
    assert (push.trigger.provider, push.trigger.clone_url, push.trigger.base_ref) == (
        "github",
        clone_url,
        None,
    )
    assert (pr.trigger.clone_url, pr.trigger.base_ref, pr.trigger.ref) == (
        clone_url,
        "refs/heads/master",
        "refs/heads/changes",
    )
