"""The NotificationRule aggregate and its channels: what is accepted, what is refused and why,
the lifecycle, and the Slack body and e-mail a notice becomes."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.notifications.messages import Notice, email, slack_body
from domain.errors import IllegalTransition, InvalidValue
from domain.notification_channel import EmailChannel, SlackChannel, secret_names
from domain.notification_rule import TRIGGERS, NotificationRule, RuleStatus

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
SLACK = SlackChannel(url_secret="SLACK_URL")
MAIL = EmailChannel(host="smtp.example.com", sender="ci@example.com", to=("ops@example.com",))


def make(**more) -> NotificationRule:
    fields = {
        "id": uuid.uuid4(),
        "project_id": uuid.uuid4(),
        "name": "ci",
        "triggers": ("run_failed",),
        "pipeline_id": None,
        "branch": None,
        "channel": SLACK,
        "at": AT,
    } | more
    return NotificationRule.create(**fields)


@pytest.mark.parametrize(
    ("more", "field"),
    [
        ({"name": "  "}, "name"),
        ({"triggers": ()}, "triggers"),
        ({"triggers": ("run_exploded",)}, "triggers"),
        ({"branch": "a b"}, "branch"),
        ({"channel": SlackChannel()}, "channel"),
        ({"channel": SlackChannel(url="https://h.example.com/", url_secret="X")}, "channel"),
        ({"channel": SlackChannel(url="ftp://h.example.com/")}, "channel.url"),
        ({"channel": SlackChannel(url="https://u:p@h.example.com/")}, "channel.url"),
        ({"channel": SlackChannel(url_secret="not a name")}, "channel.url_secret"),
        ({"channel": EmailChannel(host="bad host", sender="a@b.c", to=("d@e.f",))}, "channel.host"),
        (
            {"channel": EmailChannel(host="h", port=0, sender="a@b.c", to=("d@e.f",))},
            "channel.port",
        ),
        ({"channel": EmailChannel(host="h", sender="nobody", to=("d@e.f",))}, "channel.sender"),
        ({"channel": EmailChannel(host="h", sender="a@b.c")}, "channel.to"),
        ({"channel": EmailChannel(host="h", sender="a@b.c", to=("x",))}, "channel.to"),
        (
            {"channel": EmailChannel(host="h", sender="a@b.c", to=("d@e.f",), to_secret="TO")},
            "channel.to",
        ),
        (
            {"channel": EmailChannel(host="h", sender="a@b.c", to=("d@e.f",), username="u")},
            "channel",
        ),
    ],
)
def test_a_bad_rule_is_refused_naming_the_field(more: dict, field: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        make(**more)
    assert refused.value.field == field


def test_the_lifecycle_and_what_each_event_records() -> None:
    rule = make(triggers=("run_failed", "run_failed", "system_notice"), channel=MAIL)
    assert rule.triggers == ("run_failed", "system_notice")
    rule.change(
        name="night",
        triggers=("runner_lost",),
        pipeline_id=None,
        branch="main",
        channel=SLACK,
        at=AT,
    )
    rule.disable(reason="  quiet week ", at=AT)
    with pytest.raises(IllegalTransition):
        rule.disable(reason="", at=AT)
    rule.enable(at=AT)
    rule.park(message_id="m1", event_position=7, attempts=3, last_status=500, last_error="x", at=AT)
    rule.request_resend(message_id="m1", event_position=7, at=AT)
    rule.delete(at=AT)
    with pytest.raises(IllegalTransition):
        rule.request_resend(message_id="m1", event_position=7, at=AT)
    with pytest.raises(IllegalTransition):
        rule.change(
            name="x", triggers=("run_failed",), pipeline_id=None, branch=None, channel=SLACK, at=AT
        )

    assert (rule.name, rule.triggers, rule.branch, rule.channel) == (
        "night",
        ("runner_lost",),
        "main",
        SLACK,
    )
    assert rule.status is RuleStatus.DELETED
    kinds = [type(e).__name__ for e in rule.collect_events()]
    assert kinds == [
        "Created",
        "Changed",
        "Disabled",
        "Enabled",
        "Parked",
        "ResendRequested",
        "Deleted",
    ]


def test_a_channel_names_the_secrets_it_needs() -> None:
    mail = EmailChannel(
        host="h", sender="a@b.c", to_secret="ONCALL", username="u", password_secret="PW"
    )
    assert secret_names(SLACK) == (("channel.url_secret", "SLACK_URL"),)
    assert secret_names(SlackChannel(url="https://h.example.com/")) == ()
    assert secret_names(mail) == (
        ("channel.password_secret", "PW"),
        ("channel.to_secret", "ONCALL"),
    )


@given(st.lists(st.sampled_from(TRIGGERS), min_size=1))
def test_any_known_triggers_are_kept_once_each_in_order(triggers: list[str]) -> None:
    assert make(triggers=tuple(triggers)).triggers == tuple(dict.fromkeys(triggers))


NOTICE = Notice(
    "run_failed",
    "Run failed: a <b> & c",
    ("Reason: x > y",),
    "https://flowledger.example.com/dashboard/runs/1",
    "Open the run",
)


def test_the_slack_body_is_text_and_block_kit_with_slack_escaping() -> None:
    body = json.loads(slack_body(NOTICE))

    assert (
        body["text"]
        == "Run failed: a &lt;b&gt; &amp; c: https://flowledger.example.com/dashboard/runs/1"
    )
    header, section, context = body["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Run failed: a <b> & c"},
    }
    assert section == {"type": "section", "text": {"type": "mrkdwn", "text": "Reason: x &gt; y"}}
    assert context["elements"][0]["text"] == f"<{NOTICE.link}|Open the run>"


@given(st.text(min_size=1, max_size=5000))
def test_slack_limits_hold_for_any_title_and_detail(text: str) -> None:
    body = json.loads(slack_body(Notice("system_notice", text, (text,), "https://x.example/", "x")))
    assert len(body["blocks"][0]["text"]["text"]) <= 150
    assert len(body["blocks"][1]["text"]["text"]) <= 3000


def test_the_email_is_plain_text_marked_auto_generated() -> None:
    mail = email(NOTICE, MAIL, ("ops@example.com", "dev@example.com"), "event-1")

    assert mail["Subject"] == "[flowledger] Run failed: a <b> & c"
    assert (mail["From"], mail["To"]) == ("ci@example.com", "ops@example.com, dev@example.com")
    assert mail["Auto-Submitted"] == "auto-generated"
    assert "event-1" in mail["Message-ID"]
    assert f"Open the run: {NOTICE.link}" in mail.get_content()
