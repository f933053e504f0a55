"""Commit statuses against a local GitHub and GitLab (tests/integration/outbound/git_hosts.py)
that check each request as their documentation says:
https://docs.github.com/en/rest/commits/statuses#create-a-commit-status and
https://docs.gitlab.com/ee/api/commits.html#set-the-pipeline-status-of-a-commit.

Runs are started as the intake starts them: a recorded webhook delivery, then `TriggerRun`
(kind webhook) caused by it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import nats
import pytest

from adapters.outbound.deliverer import StatusHosts
from adapters.secrets import vault
from adapters.statuses.reporter import CONSUMER
from commands.context import CommandContext
from commands.pipelines import CreatePipeline
from commands.run_reports import ReportStepStatus
from commands.runs import TriggerRun
from commands.secrets import SetSecret
from domain.commit_status import report_stream_id
from domain.envelope import EventMetadata
from domain.pipeline_definition import PipelineDefinition
from domain.step_spec import StepSpec
from domain.webhook_delivery import WebhookDelivery, delivery_stream_id
from tests.integration.outbound.git_hosts import GitHosts, git_hosts
from tests.integration.outbound.world import ADMIN, World, eventually

TOKEN = "ghp_" + "x" * 36
SHA = "0123456789abcdef0123456789abcdef01234567"

pytestmark = pytest.mark.timeout(120)


def statuses(hosts: GitHosts) -> StatusHosts:
    return StatusHosts(
        reveal=vault.reveal,
        github_api=hosts.github_api,
        gitlab_api=hosts.gitlab_api,
        dashboard_url="https://flowledger.example.com",
    )


async def pipeline(world: World, project: str, name: str = "ci") -> uuid.UUID:
    definition = PipelineDefinition(name=name, steps=(StepSpec(name="build", run="make"),))
    made = await world.do(CreatePipeline(project_id=uuid.UUID(project), definition=definition))
    return uuid.UUID(made["id"])


async def webhook_run(
    world: World, project: str, pipeline_id: uuid.UUID, kind: str, repo: str
) -> uuid.UUID:
    """A delivery from `kind`, then the run it causes (what the intake does)."""
    source, delivery_id = uuid.uuid4(), f"d-{uuid.uuid4().hex}"
    delivery = WebhookDelivery.receive(
        id=delivery_stream_id(source, delivery_id),
        source_id=source,
        project_id=uuid.UUID(project),
        source_kind=kind,
        delivery_id=delivery_id,
        event="push" if kind == "github" else "Push Hook",
        headers={"content-type": "application/json"},
        content_type="application/json",
        payload="{}",
        at=datetime.now(UTC),
    )
    await world.services.repository.save(delivery, metadata=EventMetadata(correlation_id="t"))
    received = (await world.services.store.read_stream(str(delivery.id)))[0]
    context = CommandContext(
        principal=ADMIN,
        at=datetime.now(UTC),
        correlation_id="t",
        causation_id=str(received.event_id),
    )
    command = TriggerRun(
        pipeline_id=pipeline_id,
        kind="webhook",
        repo=repo,
        ref="refs/heads/main",
        sha=SHA,
        event="push",
        delivery_id=delivery_id,
    )
    return uuid.UUID((await world.services.bus.dispatch(command, context)).id)


async def finish(world: World, run_id: uuid.UUID, outcome: str) -> None:
    await world.do(ReportStepStatus(run_id=run_id, step="build", status="running"))
    code = 0 if outcome == "succeeded" else 1
    await world.do(ReportStepStatus(run_id=run_id, step="build", status=outcome, exit_code=code))


async def attempts(world: World, run_id: uuid.UUID, count: int) -> list:
    async def found() -> list:
        events = await world.services.store.read_stream(str(report_stream_id(run_id)))
        tried = [e for e in events if e.type == "CommitStatusAttempted"]
        return tried if len(tried) >= count else []

    return await eventually(found)


async def test_a_github_run_reports_pending_then_success_to_its_commit(world: World) -> None:
    home = await world.project()
    await world.do(SetSecret(project_id=uuid.UUID(home), name="GITHUB_TOKEN", value=TOKEN))
    ci = await pipeline(world, home, "build-and-test")
    with git_hosts(TOKEN) as hosts:
        async with world.deliverer(statuses(hosts)):
            run = await webhook_run(world, home, ci, "github", "octo-org/hello-world")
            await finish(world, run, "succeeded")
            tried = await attempts(world, run, 3)

    assert hosts.refused == []
    assert [s.body["state"] for s in hosts.accepted] == ["pending", "pending", "success"]
    first = hosts.accepted[0]
    assert (first.repo, first.sha) == ("octo-org/hello-world", SHA)
    assert first.body == {
        "state": "pending",
        "target_url": f"https://flowledger.example.com/dashboard/runs/{run}",
        "description": "Queued",
        "context": "flowledger/build-and-test",
    }
    assert first.headers["user-agent"].startswith("flowledger/")
    assert [(e.data["state"], e.data["http_status"], e.data["attempt"]) for e in tried] == [
        ("queued", 201, 1),
        ("running", 201, 1),
        ("success", 201, 1),
    ]
    assert TOKEN not in repr([e.data for e in tried])


async def test_a_report_redelivered_after_the_outcome_does_not_take_the_commit_back(
    world: World,
) -> None:
    """JetStream hands a report never acknowledged (a reporter stopped before its ack) out
    again after the ack wait, behind the reports that came since: a `queued` arriving after
    `success` must not turn the commit back to pending."""
    home = await world.project()
    await world.do(SetSecret(project_id=uuid.UUID(home), name="GITHUB_TOKEN", value=TOKEN))
    ci = await pipeline(world, home)
    stream = world.settings.relay_stream
    with git_hosts(TOKEN) as hosts:
        async with world.deliverer(statuses(hosts)):
            run = await webhook_run(world, home, ci, "github", "o/r")
            await finish(world, run, "succeeded")
            await attempts(world, run, 3)
            nc = await nats.connect(world.nats_url)
            try:
                js = nc.jetstream()
                subject = f"{world.prefix}.{home}.{ci}.run.{run}.RunRequested"
                first = await js.get_last_msg(stream, subject)
                # Its own headers but JetStream's (message id, expected last): a copy is taken.
                kept = (first.headers or {}).items()
                headers = {k: v for k, v in kept if not k.startswith("Nats-")}
                again = await js.publish(subject, first.data, headers=headers)

                async def taken() -> bool:
                    info = await js.consumer_info(stream, CONSUMER)
                    return info.delivered.stream_seq >= again.seq and info.num_ack_pending == 0

                await eventually(taken)
            finally:
                await nc.close()
            tried = await attempts(world, run, 3)

    assert [s.body["state"] for s in hosts.accepted] == ["pending", "pending", "success"]
    assert [e.data["state"] for e in tried] == ["queued", "running", "success"]


async def test_a_gitlab_run_reports_running_then_failed(world: World) -> None:
    home = await world.project()
    await world.do(SetSecret(project_id=uuid.UUID(home), name="GITLAB_TOKEN", value=TOKEN))
    ci = await pipeline(world, home)
    with git_hosts(TOKEN) as hosts:
        async with world.deliverer(statuses(hosts)):
            run = await webhook_run(world, home, ci, "gitlab", "group/sub/project")
            await finish(world, run, "failed")
            await attempts(world, run, 3)

    assert hosts.refused == []
    assert [s.body["state"] for s in hosts.accepted] == ["pending", "running", "failed"]
    assert {s.repo for s in hosts.accepted} == {"group/sub/project"}
    assert hosts.accepted[0].body == {
        "state": "pending",
        "name": "flowledger/ci",
        "target_url": f"https://flowledger.example.com/dashboard/runs/{run}",
        "description": "Queued",
        "ref": "main",
    }


async def test_a_host_in_trouble_is_retried_and_each_attempt_recorded(world: World) -> None:
    home = await world.project()
    await world.do(SetSecret(project_id=uuid.UUID(home), name="GITHUB_TOKEN", value=TOKEN))
    ci = await pipeline(world, home)
    with git_hosts(TOKEN) as hosts:
        hosts.fail_next = 2
        async with world.deliverer(statuses(hosts)):
            run = await webhook_run(world, home, ci, "github", "o/r")
            tried = await attempts(world, run, 3)

    assert [(e.data["attempt"], e.data["http_status"]) for e in tried] == [
        (1, 502),
        (2, 502),
        (3, 201),
    ]
    assert [s.body["state"] for s in hosts.accepted] == ["pending"]


async def test_a_wrong_token_is_recorded_with_the_hosts_answer_and_not_retried(
    world: World,
) -> None:
    home = await world.project()
    await world.do(SetSecret(project_id=uuid.UUID(home), name="GITHUB_TOKEN", value="wrong"))
    ci = await pipeline(world, home)
    with git_hosts(TOKEN) as hosts:
        async with world.deliverer(statuses(hosts)):
            run = await webhook_run(world, home, ci, "github", "o/r")
            tried = await attempts(world, run, 1)

    assert [(e.data["attempt"], e.data["http_status"]) for e in tried] == [(1, 401)]
    assert hosts.accepted == []


async def test_without_a_token_the_attempt_says_so_and_nothing_is_sent(world: World) -> None:
    home = await world.project()
    ci = await pipeline(world, home)
    with git_hosts(TOKEN) as hosts:
        async with world.deliverer(statuses(hosts)):
            run = await webhook_run(world, home, ci, "github", "o/r")
            tried = await attempts(world, run, 1)

    assert tried[0].data["http_status"] is None
    assert "no project secret GITHUB_TOKEN" in tried[0].data["error"]
    assert hosts.accepted == hosts.refused == []


async def test_a_run_not_from_a_git_host_reports_nothing(world: World) -> None:
    home = await world.project()
    await world.do(SetSecret(project_id=uuid.UUID(home), name="GITHUB_TOKEN", value=TOKEN))
    ci = await pipeline(world, home)
    with git_hosts(TOKEN) as hosts:
        async with world.deliverer(statuses(hosts)):
            api_run = uuid.UUID((await world.do(TriggerRun(pipeline_id=ci)))["id"])
            github_run = await webhook_run(world, home, ci, "github", "o/r")
            await attempts(world, github_run, 1)

    assert await world.services.store.read_stream(str(report_stream_id(api_run))) == []
    assert len(hosts.accepted) == 1
