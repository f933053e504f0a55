"""A run's context in an intake batch, made from its delivery's (`run_context`): the context a
run sent alone had, and one the boundary's check would refuse only where it refuses the
delivery's own (which the batch command carries, checked), so the batch does not send it."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commands.boundary import checked
from commands.context import CommandContext
from commands.runs import TriggerRun
from commands.webhook_intake_requests import ACTOR, intake_context, run_context
from commands.webhook_intake_types import ReceivedDelivery
from domain.errors import InvalidValue
from domain.limits import METADATA_MAX

# Texts around METADATA_MAX, with and without a NUL or a lone surrogate, so both verdicts come.
METADATA = st.none() | st.text(alphabet="a-0\x00\ud800é", max_size=METADATA_MAX + 2)
AT = st.datetimes(min_value=datetime(2000, 1, 1), timezones=st.none() | st.just(UTC))


@st.composite
def deliveries(draw: st.DrawFn) -> ReceivedDelivery:
    return ReceivedDelivery(
        stream_id=draw(st.uuids()),
        event_id=draw(st.uuids()),
        position=draw(st.integers(1)),
        source_id=draw(st.uuids()),
        project_id=draw(st.uuids()),
        source_kind=draw(st.sampled_from(["github", "gitlab", "generic"])),
        delivery_id=draw(st.text(max_size=20)),
        event="push",
        payload="{}",
        correlation_id=draw(METADATA),
        traceparent=draw(METADATA),
    )


EACH_RUN = given(
    delivery=deliveries(),
    at=AT,
    pipeline=st.uuids(),
    actor=st.text(max_size=300),
    person=st.booleans(),
)
"""A delivery, its intake's clock, a candidate pipeline and the pusher as the payload names it."""


def verdict(context: CommandContext) -> CommandContext | str:
    try:
        return checked(context)
    except InvalidValue as error:
        return str(error)


@settings(max_examples=300)
@EACH_RUN
def test_it_is_the_context_a_run_sent_alone_had(
    delivery: ReceivedDelivery, at: datetime, pipeline: UUID, actor: str, person: bool
) -> None:
    command = TriggerRun(pipeline_id=pipeline, kind="webhook")
    made = run_context(
        intake_context(delivery, ACTOR, at), delivery.stream_id, command, actor, person
    )
    alone = intake_context(
        delivery, actor, at, key=f"intake:{delivery.stream_id}:{pipeline}", person=person
    )
    assert made == alone


@settings(max_examples=300)
@EACH_RUN
def test_its_check_fails_only_where_the_delivery_contexts_does(
    delivery: ReceivedDelivery, at: datetime, pipeline: UUID, actor: str, person: bool
) -> None:
    """The check the batch no longer makes: it passes, unchanged, whenever the delivery's
    context passes, and is refused (at the same field) whenever that is."""
    outcome = intake_context(delivery, ACTOR, at)
    made = run_context(outcome, delivery.stream_id, TriggerRun(pipeline_id=pipeline), actor, person)
    before, after = verdict(outcome), verdict(made)
    if isinstance(before, CommandContext):
        assert before == outcome
        assert after == made
    else:
        assert after == before


@pytest.mark.parametrize("size", [METADATA_MAX, METADATA_MAX + 1])
def test_the_property_sees_both_verdicts(size: int) -> None:
    delivery = ReceivedDelivery(
        stream_id=UUID(int=1),
        event_id=UUID(int=2),
        position=1,
        source_id=UUID(int=3),
        project_id=UUID(int=4),
        source_kind="github",
        delivery_id="d",
        event="push",
        payload="{}",
        correlation_id="c" * size,
    )
    outcome = intake_context(delivery, ACTOR, datetime(2026, 1, 1, tzinfo=UTC))
    made = run_context(outcome, delivery.stream_id, TriggerRun(pipeline_id=UUID(int=5)), "x", True)
    assert isinstance(verdict(made), CommandContext) is (size <= METADATA_MAX)
