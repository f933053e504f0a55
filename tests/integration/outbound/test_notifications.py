"""Notification rules end to end: commands through the bus, the relay and JetStream, the
projector, and the deliverer's notifier telling a local Slack incoming webhook and a real SMTP
server (aiosmtpd), both in tests/integration/outbound/slack.py: Slack's body as documented at
https://api.slack.com/messaging/webhooks and https://api.slack.com/reference/block-kit/blocks,
the e-mail as RFC 5321/5322 carry it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
from litestar.testing import AsyncTestClient

from adapters.bootstrap import api_app
from adapters.outbound.attempts import list_attempts
from adapters.outbound.deliverer import StatusHosts
from adapters.platform.admin_key import create_key
from adapters.secrets import vault
from commands.dispatch import DispatchReady, reap
from commands.notification_rules import CreateNotificationRule, ResendNotification
from commands.pipelines import CreatePipeline
from commands.run_reports import ReportStepStatus
from commands.runners import RecordHeartbeat, RegisterRunner
from commands.runs import TriggerRun
from commands.secrets import DeleteSecret, SetSecret
from domain.notification_channel import EmailChannel, SlackChannel
from domain.pipeline_definition import PipelineDefinition
from domain.step_spec import StepSpec
from tests.integration.outbound.slack import Slack, slack, smtp_server
from tests.integration.outbound.world import World, eventually, until

pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("projector")]

DASHBOARD = "https://flowledger.example.com"
HOSTS = StatusHosts(
    reveal=vault.reveal,
    github_api="http://127.0.0.1:9",
    gitlab_api="http://127.0.0.1:9",
    dashboard_url=DASHBOARD,
)


async def pipeline(world: World, project: str, name: str, *steps: StepSpec) -> uuid.UUID:
    steps = steps or (StepSpec(name="build", run="make"),)
    definition = PipelineDefinition(name=name, steps=steps)
    made = await world.do(CreatePipeline(project_id=uuid.UUID(project), definition=definition))
    return uuid.UUID(made["id"])


async def run(world: World, pipeline_id: uuid.UUID, outcome: str, branch: str = "main") -> str:
    made = await world.do(TriggerRun(pipeline_id=pipeline_id, ref=f"refs/heads/{branch}"))
    run_id = uuid.UUID(made["id"])
    await world.do(ReportStepStatus(run_id=run_id, step="build", status="running"))
    code = 0 if outcome == "succeeded" else 1
    await world.do(ReportStepStatus(run_id=run_id, step="build", status=outcome, exit_code=code))
    return str(run_id)


async def slack_rule(world: World, project: str, hook: Slack, *triggers: str, **more) -> str:
    await world.do(SetSecret(project_id=uuid.UUID(project), name="SLACK_URL", value=hook.url))
    made = await world.do(
        CreateNotificationRule(
            project_id=uuid.UUID(project),
            name="to slack",
            triggers=triggers,
            channel=SlackChannel(url_secret="SLACK_URL"),
            **more,
        )
    )
    return made["id"]


def told(hook: Slack, count: int) -> None:
    assert len(hook.accepted) == count, [b["text"] for b in hook.accepted]


async def test_failed_then_succeeded_is_told_as_failed_then_recovered_in_slacks_shape(
    world: World,
) -> None:
    home = await world.project()
    ci = await pipeline(world, home, "build-and-test")
    with slack() as hook:
        await slack_rule(world, home, hook, "run_failed", "run_recovered")
        # Narrowed to another branch: hears none of this.
        await world.do(
            CreateNotificationRule(
                project_id=uuid.UUID(home),
                name="release only",
                triggers=("run_failed",),
                channel=SlackChannel(url_secret="SLACK_URL"),
                branch="release",
            )
        )
        async with world.deliverer(HOSTS):
            failed = await run(world, ci, "failed")
            await until(lambda: len(hook.accepted) >= 1)
            recovered = await run(world, ci, "succeeded")
            await until(lambda: len(hook.accepted) >= 2)
            await run(world, ci, "succeeded")  # a success after a success: no recovery
            last = await run(world, ci, "failed")
            await until(lambda: len(hook.accepted) >= 3)

    told(hook, 3)
    assert hook.refused == []
    first = hook.accepted[0]
    link = f"{DASHBOARD}/dashboard/runs/{failed}"
    assert first["text"] == f"Run failed: build-and-test on main: {link}"
    assert first["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Run failed: build-and-test on main"},
    }
    assert first["blocks"][1]["type"] == "section"
    assert first["blocks"][1]["text"]["type"] == "mrkdwn"
    assert f"Run {failed} failed." in first["blocks"][1]["text"]["text"]
    assert "Step: build" in first["blocks"][1]["text"]["text"]
    assert first["blocks"][2] == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": f"<{link}|Open the run>"}],
    }
    assert hook.accepted[1]["text"].startswith("Run recovered: build-and-test on main")
    assert recovered in hook.accepted[1]["text"]
    assert last in hook.accepted[2]["text"]
    assert hook.headers[0]["content-type"] == "application/json"
    assert "webhook-signature" not in hook.headers[0]
    assert hook.url not in repr(hook.accepted)  # the secret URL is never in a message


async def test_an_approval_waiting_is_mailed_with_the_password_from_the_secret_store(
    world: World,
) -> None:
    home = await world.project()
    password = "s3cret-smtp-" + uuid.uuid4().hex
    await world.do(SetSecret(project_id=uuid.UUID(home), name="SMTP_PASSWORD", value=password))
    people = "ops@example.com, lead@example.com"  # personal data: kept out of every event
    await world.do(SetSecret(project_id=uuid.UUID(home), name="ONCALL", value=people))
    gate = StepSpec(name="gate", kind="approval", prompt="Ship it?")
    release = await pipeline(world, home, "release", gate)
    with smtp_server("mailer", password) as mailbox:
        channel = EmailChannel(
            host="127.0.0.1",
            port=mailbox.port,
            sender="flowledger@example.com",
            to_secret="ONCALL",
            starttls=False,
            username="mailer",
            password_secret="SMTP_PASSWORD",
        )
        rule = await world.do(
            CreateNotificationRule(
                project_id=uuid.UUID(home),
                name="approvals by mail",
                triggers=("approval_waiting",),
                channel=channel,
                pipeline_id=release,
            )
        )
        async with world.deliverer(HOSTS):
            made = await world.do(TriggerRun(pipeline_id=release, ref="refs/heads/main"))
            await world.do(DispatchReady(run_id=uuid.UUID(made["id"])))  # the dispatcher's turn
            await until(lambda: len(mailbox.messages) >= 1)

    assert mailbox.logins == ["mailer"]
    envelope, mail = mailbox.messages[0]
    assert isinstance(mail, EmailMessage)
    assert envelope.mail_from == "flowledger@example.com"
    assert envelope.rcpt_tos == ["ops@example.com", "lead@example.com"]
    assert mail["Subject"] == "[flowledger] Approval waiting: release on main"
    assert mail["From"] == "flowledger@example.com"
    assert mail["To"] == "ops@example.com, lead@example.com"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["Message-ID"] and mail["Date"]
    body = mail.get_content()
    assert "Step *gate*" in body and "Ship it?" in body
    assert f"{DASHBOARD}/dashboard/runs/{made['id']}" in body
    assert password not in envelope.content.decode()
    events = await world.services.store.read_stream(rule["id"])
    assert password not in repr(events) and "lead@example.com" not in repr(events)
    [attempt] = await list_attempts(world.services.store.pool, uuid.UUID(rule["id"]))
    assert (attempt.status_code, attempt.outcome) == (250, "delivered")


async def test_a_reaped_runner_and_a_posted_system_notice_reach_every_projects_rules(
    world: World,
) -> None:
    homes = [await world.project(), await world.project()]
    with slack() as hook:
        for home in homes:
            await slack_rule(world, home, hook, "runner_lost", "system_notice")
        async with world.deliverer(HOSTS):
            name = f"r-{uuid.uuid4().hex[:8]}"
            runner = await world.do(
                RegisterRunner(
                    name=name, labels=("linux",), host="ci-1", version="1", concurrency=1
                )
            )
            runner_id = uuid.UUID(runner["id"])
            await world.do(RecordHeartbeat(runner_id=runner_id))
            seen = datetime.now(UTC)
            # What the dispatcher's reaper dispatches for a runner silent past the bound.
            await world.services.bus.dispatch(*reap(runner_id, seen, seen + timedelta(seconds=90)))
            await until(lambda: len(hook.accepted) >= 2)
            _, token = await create_key(
                world.services, name="operator", scopes=("admin",), project_id=None, at=seen
            )
            app = api_app(
                world.settings, database_url=world.settings.database_url, nats_url=world.nats_url
            )
            async with AsyncTestClient(app=app) as client:
                sent = await client.post(
                    "/api/v1/system/notify",
                    json={"title": "Maintenance at 18:00", "level": "warning"},
                    headers={"X-API-Key": token},
                )
            assert sent.status_code == 202, sent.text
            await until(lambda: len(hook.accepted) >= 4)

    texts = [b["text"] for b in hook.accepted]
    assert texts[:2] == [f"Runner lost: {name}: {DASHBOARD}/dashboard/operations"] * 2
    assert "Reason: no heartbeat for 90 s" in hook.accepted[0]["blocks"][1]["text"]["text"]
    assert (
        texts[2:]
        == [f"System notice (warning): Maintenance at 18:00: {DASHBOARD}/dashboard/operations"] * 2
    )


async def test_a_failing_receiver_is_retried_then_parked_and_re_sent(world: World) -> None:
    home = await world.project()
    ci = await pipeline(world, home, "flaky")
    with slack() as hook:
        rule = await slack_rule(world, home, hook, "run_failed")
        rule_id = uuid.UUID(rule)
        pool = world.services.store.pool
        async with world.deliverer(HOSTS):
            hook.failing = 1  # once: retried after a back-off, then delivered
            await run(world, ci, "failed")
            await until(lambda: len(hook.accepted) >= 1)
            hook.failing = 10_000  # longer than the 1 s the world retries for: parked
            second = await run(world, ci, "failed")

            async def parked() -> list:
                events = await world.services.store.read_stream(rule)
                return [e for e in events if e.type == "NotificationParked"]

            [park] = await eventually(parked)
            hook.failing = 0
            await world.do(
                ResendNotification(
                    rule_id=rule_id,
                    message_id=park.data["message_id"],
                    event_position=park.data["event_position"],
                )
            )
            await until(lambda: len(hook.accepted) >= 2)

    assert second in hook.accepted[1]["text"]
    assert park.data["last_status"] == 500
    assert "HTTP 500" in park.data["last_error"]
    tries = await list_attempts(pool, rule_id)
    outcomes = [t.outcome for t in tries]
    assert outcomes[:2] == ["retrying", "delivered"]
    assert "parked" in outcomes and outcomes[-1] == "delivered"
    assert tries[-1].message_id == park.data["message_id"]


async def test_a_private_target_from_a_secret_or_a_secret_gone_is_parked_with_the_reason(
    world: World,
) -> None:
    """What was checked when the rule was written may change: the secret may now hold an
    address nobody allowed (10.0.0.0/8 here: the world allows 127.0.0.1 only) or be gone."""
    home = await world.project()
    project_id = uuid.UUID(home)
    ci = await pipeline(world, home, "guarded")
    await world.do(SetSecret(project_id=project_id, name="INNER", value="http://10.9.8.7/hook"))
    await world.do(SetSecret(project_id=project_id, name="GONE", value="https://x.example/"))
    inner = await world.do(
        CreateNotificationRule(
            project_id=project_id,
            name="inner",
            triggers=("run_failed",),
            channel=SlackChannel(url_secret="INNER"),
        )
    )
    gone = await world.do(
        CreateNotificationRule(
            project_id=project_id,
            name="gone",
            triggers=("run_failed",),
            channel=SlackChannel(url_secret="GONE"),
        )
    )
    await world.do(DeleteSecret(project_id=project_id, name="GONE"))
    async with world.deliverer(HOSTS):
        await run(world, ci, "failed")

        async def parked() -> list:
            found = []
            for rule in (inner, gone):
                events = await world.services.store.read_stream(rule["id"])
                found += [e for e in events if e.type == "NotificationParked"]
            return found if len(found) == 2 else []

        blocked, missing = await eventually(parked)

    assert blocked.data["last_status"] is None
    assert "blocked: 10.9.8.7 resolves to 10.9.8.7" in blocked.data["last_error"]
    assert "FLOWLEDGER_OUTBOUND_ALLOW" in blocked.data["last_error"]
    assert missing.data["last_error"] == "the project has no secret 'GONE' (any more)"
    tries = await list_attempts(world.services.store.pool, uuid.UUID(inner["id"]))
    assert {t.outcome for t in tries} <= {"retrying", "parked"} and tries[-1].outcome == "parked"
