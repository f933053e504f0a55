"""The deliverer against real PostgreSQL, NATS (the relay's stream) and a local receiver.

Deliveries are checked as the Standard Webhooks spec says a consumer checks them
(https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md),
with its reference library: `webhook-id`, `webhook-timestamp`, `webhook-signature`.
"""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from standardwebhooks.webhooks import Webhook

from adapters.outbound.attempts import list_attempts
from adapters.platform.settings import Settings
from adapters.streaming.relay import Relay
from commands.subscriptions import (
    DeleteSubscription,
    DisableSubscription,
    EnableSubscription,
    ResendDelivery,
)
from tests.integration.outbound.receiving import receiving
from tests.integration.outbound.world import (
    World,
    eventually,
    positions,
    until,
)
from tests.integration.relay.relaying import running


async def test_events_arrive_signed_in_order_and_only_those_wanted(world: World) -> None:
    home = await world.project()
    with receiving() as receiver:
        async with world.deliverer():
            everything = await world.subscribe(home, receiver.url("/all"))
            renames = await world.subscribe(home, receiver.url("/renames"), ("ProjectRenamed",))
            other = await world.project()
            await world.renames(home, 5)
            await world.renames(other, 2)
            await until(lambda: len(receiver.delivered("/renames")) == 5)
            await until(lambda: len(receiver.delivered("/all")) >= 5)
            await asyncio.sleep(0.5)

    got = receiver.delivered("/renames")
    assert positions(got) == sorted(positions(got))
    for request in got:
        payload = Webhook(renames["secret"]).verify(request.body, request.headers)
        assert payload["type"] == "ProjectRenamed"
        assert payload["data"]["stream_id"] == home
        assert request.headers["webhook-id"] == payload["data"]["event_id"]
        assert request.headers["user-agent"].startswith("flowledger-webhooks/")
        assert request.headers["content-type"] == "application/json"
    types = [json.loads(r.body)["type"] for r in receiver.delivered("/all")]
    # Its project's events from its creation on (its own are not sent to it), no other's.
    assert types == ["ProjectRenamed"] * 5
    assert everything["secret"] != renames["secret"]


async def test_what_was_recorded_before_a_subscription_is_not_sent_when_published_after(
    world_and_relay: tuple[World, Relay],
) -> None:
    # The relay is behind: the project's creation and the subscription are published only
    # after the subscription was recorded, so NATS stamps them later than its creation.
    world, relay = world_and_relay
    home = await world.project()
    with receiving() as receiver:
        sub = await world.subscribe(home, receiver.url("/late"))
        await world.renames(home, 1)
        await asyncio.sleep(0.5)
        async with running(relay), world.deliverer() as deliverer:
            await until(lambda: uuid.UUID(sub["id"]) in deliverer.running.workers)
            await world.renames(home, 1, start=1)
            await until(lambda: len(receiver.delivered("/late")) >= 2)
            await asyncio.sleep(0.5)

    types = [json.loads(r.body)["type"] for r in receiver.delivered("/late")]
    assert types == ["ProjectRenamed", "ProjectRenamed"]


async def test_a_failure_is_retried_and_each_attempt_logged(world: World) -> None:
    home = await world.project()
    with receiving() as receiver:
        async with world.deliverer():
            sub = await world.subscribe(home, receiver.url("/flaky-first"), ("ProjectRenamed",))
            await world.renames(home, 3)
            await until(lambda: len(receiver.delivered("/flaky-first")) == 3)

            async def logged() -> list:
                found = await list_attempts(world.services.store.pool, uuid.UUID(sub["id"]))
                return found if len(found) == 6 else []

            attempts = await eventually(logged)

    assert [(a.attempt, a.outcome, a.status_code) for a in attempts] == [
        (1, "retrying", 500),
        (2, "delivered", 204),
    ] * 3
    assert positions(receiver.delivered("/flaky-first")) == [
        a.event_position for a in attempts[1::2]
    ]
    first, second = receiver.at("/flaky-first")[:2]
    assert first.headers["webhook-id"] == second.headers["webhook-id"]


async def test_a_failing_target_is_parked_then_the_subscription_disabled(world: World) -> None:
    home = await world.project()
    with receiving() as receiver:
        async with world.deliverer():
            sub = await world.subscribe(home, receiver.url("/down"), ("ProjectRenamed",))
            await world.renames(home, 3)

            async def disabled() -> list:
                events = await world.services.store.read_stream(sub["id"])
                return [e for e in events if e.type == "SubscriptionDisabled"]

            await eventually(disabled)

    events = await world.services.store.read_stream(sub["id"])
    kinds = [e.type for e in events]
    assert kinds == [
        "SubscriptionCreated",
        "SubscriptionDeliveryParked",
        "SubscriptionDeliveryParked",
        "SubscriptionDisabled",
    ]
    parked = events[1].data
    assert parked["last_status"] == 503 and parked["attempts"] >= 2
    assert "2 deliveries in a row parked" in events[3].data["reason"]
    assert events[3].metadata.actor == "deliverer"
    # The third event waits: a disabled subscription sends nothing.
    assert len({r.headers["webhook-id"] for r in receiver.at("/down")}) == 2


async def test_nothing_is_missed_across_a_restart_and_nothing_sent_twice(world: World) -> None:
    home = await world.project()
    with receiving() as receiver:
        async with world.deliverer():
            await world.subscribe(home, receiver.url("/ok"), ("ProjectRenamed",))
            await world.renames(home, 3)
            await until(lambda: len(receiver.delivered("/ok")) == 3)
        await world.renames(home, 4, start=3)  # while no deliverer runs
        async with world.deliverer():
            await until(lambda: len(receiver.delivered("/ok")) == 7)
            await asyncio.sleep(0.5)

    got = positions(receiver.delivered("/ok"))
    assert got == sorted(set(got)) and len(got) == 7


async def test_a_resend_sends_the_same_message_again(world: World) -> None:
    home = await world.project()
    with receiving() as receiver:
        async with world.deliverer():
            sub = await world.subscribe(home, receiver.url("/again"), ("ProjectRenamed",))
            await world.renames(home, 1)
            await until(lambda: len(receiver.delivered("/again")) == 1)
            first = receiver.delivered("/again")[0]
            event = json.loads(first.body)["data"]
            await world.do(
                ResendDelivery(
                    subscription_id=uuid.UUID(sub["id"]),
                    message_id=event["event_id"],
                    event_position=event["position"],
                )
            )
            await until(lambda: len(receiver.delivered("/again")) == 2)

    again = receiver.delivered("/again")[1]
    assert again.headers["webhook-id"] == first.headers["webhook-id"]
    assert json.loads(again.body) == json.loads(first.body)
    Webhook(sub["secret"]).verify(again.body, again.headers)


async def test_a_loopback_target_is_refused_when_not_allowed(
    world: World, database_url: str
) -> None:
    world.settings = Settings(
        **{
            f: getattr(world.settings, f)
            for f in world.settings.__struct_fields__
            if f != "outbound_allow"
        }
    )
    home = await world.project()
    with receiving() as receiver:
        async with world.deliverer():
            sub = await world.subscribe(home, receiver.url("/private"), ("ProjectRenamed",))
            await world.renames(home, 1)

            async def parked() -> list:
                return await list_attempts(
                    world.services.store.pool, uuid.UUID(sub["id"]), outcome="parked"
                )

            found = await eventually(parked)

    assert receiver.at("/private") == []
    assert found[0].status_code is None
    assert "non-public address" in found[0].error


async def test_a_deleted_subscription_stops_and_loses_its_consumer(world: World) -> None:
    home = await world.project()
    with receiving() as receiver:
        async with world.deliverer() as deliverer:
            sub = await world.subscribe(home, receiver.url("/gone"), ("ProjectRenamed",))
            await world.renames(home, 1)
            await until(lambda: len(receiver.delivered("/gone")) == 1)
            await world.do(
                DeleteSubscription(subscription_id=uuid.UUID(sub["id"]), project_id=uuid.UUID(home))
            )
            await until(lambda: uuid.UUID(sub["id"]) not in deliverer.running.workers)
            await world.renames(home, 2, start=1)
            await asyncio.sleep(1.0)

    assert len(receiver.at("/gone")) == 1


pytestmark = pytest.mark.timeout(120)


async def test_disabled_sends_nothing_and_enabled_again_goes_on_from_there(world: World) -> None:
    home = await world.project()
    with receiving() as receiver:
        async with world.deliverer():
            sub = await world.subscribe(home, receiver.url("/paused"), ("ProjectRenamed",))
            sub_id = uuid.UUID(sub["id"])
            await world.renames(home, 1)
            await until(lambda: len(receiver.delivered("/paused")) == 1)
            await world.do(DisableSubscription(subscription_id=sub_id, reason="maintenance"))
            await world.renames(home, 2, start=1)
            await asyncio.sleep(1.0)
            assert len(receiver.at("/paused")) == 1
            await world.do(EnableSubscription(subscription_id=sub_id))
            await until(lambda: len(receiver.delivered("/paused")) == 3)
            # Once more, to see the old disabling does not stop it a second time.
            await world.renames(home, 1, start=3)
            await until(lambda: len(receiver.delivered("/paused")) == 4)

    got = positions(receiver.delivered("/paused"))
    assert got == sorted(set(got))
