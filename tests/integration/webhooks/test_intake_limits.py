"""Provider facts past a limit never reach an event: the run is refused and the delivery says
why, or, for what only describes (who pushed, how it ended), the text is cut with a marker."""

from __future__ import annotations

import json
import random
from uuid import UUID

from domain.limits import ACTOR_MAX, REASON_MAX
from domain.trigger_spec import TriggerSpec
from domain.webhook_delivery import WebhookDelivery
from tests.integration.webhooks.intake_world import (  # noqa: F401  (the `world` fixture)
    World,
    payload,
    world_fixture,
)

PUSH = "github/push.branch-created.json"
PULL = "github/pull_request.opened.json"
JENKINS = "jenkins/notification.completed.json"


def _noise(size: int) -> str:
    # Random letters from all over Unicode: nothing an index could compress.
    chars = [chr(random.randrange(0x4E00, 0x9FFF)) for _ in range(size)]
    return "".join(chars)


async def _world(world: World, kind: str, trigger: TriggerSpec) -> tuple[UUID, UUID]:
    project = await world.project()
    source = await world.source(project, kind)
    await world.pipeline(project, trigger)
    return project, source


async def test_a_pull_request_number_past_int32_starts_no_run_and_says_why(world: World) -> None:
    project, source = await _world(world, "github", TriggerSpec(source="github"))
    before = await world.tagged_events()

    envelope = await world.deliver(source, project, PULL, number=2**31)
    outcome = await world.handle(envelope)

    assert outcome.outcome == "failed" and outcome.runs == ()
    assert "pull_request" in outcome.reason
    started = [e for e in await world.tagged_events() if e.startswith("RunRequested")]
    assert started == [e for e in before if e.startswith("RunRequested")]


async def test_a_ref_past_its_index_starts_no_run_and_says_why(world: World) -> None:
    project, source = await _world(world, "github", TriggerSpec(source="github"))

    envelope = await world.deliver(source, project, PUSH, ref="refs/heads/" + _noise(2700))
    outcome = await world.handle(envelope)

    assert outcome.outcome == "failed" and outcome.runs == ()
    assert "ref" in outcome.reason
    recorded = await world.services.repository.get(WebhookDelivery, UUID(envelope.stream_id))
    assert len(recorded.reason) <= REASON_MAX


async def test_a_long_odd_pusher_name_is_cut_with_a_marker_and_the_run_goes_ahead(
    world: World,
) -> None:
    project, source = await _world(world, "github", TriggerSpec(source="github"))
    name = "a\x00b" + _noise(5000)

    envelope = await world.deliver(source, project, PUSH, pusher={"name": name})
    outcome = await world.handle(envelope)

    assert outcome.outcome == "triggered", outcome.reason
    run = await world.run(outcome.runs[0])
    actor = await world.actor(run.id)
    assert len(actor) == ACTOR_MAX and actor.endswith("\u2026")
    assert actor.startswith("a\ufffdb")


async def test_a_jenkins_job_name_past_a_limit_is_refused_with_a_storable_reason(
    world: World,
) -> None:
    trigger = TriggerSpec(source="jenkins", events=("build",))
    project, source = await _world(world, "jenkins", trigger)

    body = json.loads(payload(JENKINS))
    body["name"] = "job\x00" + _noise(3000)  # json.dumps sends it as the escape \u0000
    body["build"]["timestamp"] = 2**62  # past any calendar
    envelope = await world.deliver(source, project, JENKINS, body=json.dumps(body))
    outcome = await world.handle(envelope)

    assert outcome.outcome in ("failed", "ignored"), outcome
    recorded = await world.services.repository.get(WebhookDelivery, UUID(envelope.stream_id))
    assert recorded.outcome == outcome.outcome
    assert "\x00" not in recorded.reason and len(recorded.reason) <= REASON_MAX
