"""The command bus: one handler per command type, a bounded retry on conflict when allowed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import ClassVar

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from commands.bus import CommandBus, CommandResult, Dependencies
from commands.context import CommandContext, Principal
from commands.ports import VersionConflict


class Safe(msgspec.Struct, frozen=True):
    retry_on_conflict: ClassVar[bool] = True


class Unsafe(msgspec.Struct, frozen=True):
    pass


CONTEXT = CommandContext(
    principal=Principal(id="key:1", name="t", project_id=None, scopes=frozenset({"admin"})),
    at=datetime(2026, 1, 1, tzinfo=UTC),
    correlation_id="c",
)
DEPS = Dependencies(repository=None, sealer=None, secrets=None, heartbeats=None)  # type: ignore[arg-type]


def conflicting(times: int, calls: list[object]):
    async def handler(
        command: object, context: CommandContext, deps: Dependencies
    ) -> CommandResult:
        calls.append(command)
        if len(calls) <= times:
            raise VersionConflict("moved on")
        return CommandResult(id="s", version=len(calls))

    return handler


async def test_a_safe_command_is_retried_until_it_goes_through() -> None:
    calls: list[object] = []
    bus = CommandBus({Safe: conflicting(2, calls)}, DEPS, conflict_retries=3)

    result = await bus.dispatch(Safe(), CONTEXT)

    assert (len(calls), result.version) == (3, 3)


async def test_retries_are_bounded() -> None:
    calls: list[object] = []
    bus = CommandBus({Safe: conflicting(10, calls)}, DEPS, conflict_retries=3)

    with pytest.raises(VersionConflict):
        await bus.dispatch(Safe(), CONTEXT)
    assert len(calls) == 4


async def test_an_unsafe_command_reports_the_conflict_at_once() -> None:
    calls: list[object] = []
    bus = CommandBus({Unsafe: conflicting(1, calls)}, DEPS)

    with pytest.raises(VersionConflict):
        await bus.dispatch(Unsafe(), CONTEXT)
    assert len(calls) == 1


def test_an_idempotency_key_gives_the_same_id_each_time_and_scopes_to_the_caller() -> None:
    keyed = msgspec.structs.replace(CONTEXT, idempotency_key="abc")
    other = msgspec.structs.replace(
        keyed, principal=msgspec.structs.replace(CONTEXT.principal, id="key:2")
    )

    assert keyed.new_id("run") == keyed.new_id("run") != keyed.new_id("pipeline")
    assert keyed.new_id("run") != other.new_id("run")
    assert CONTEXT.new_id("run") != CONTEXT.new_id("run")
    assert keyed.metadata().idempotency_key == "key:1:abc"


@given(purpose=st.text(max_size=20), principal=st.text(max_size=60), key=st.text(max_size=200))
def test_a_keyed_id_is_the_standard_uuid5_of_the_purpose_and_scoped_key(
    purpose: str, principal: str, key: str
) -> None:
    # Ids already stored were made by uuid.uuid5: a replay must make the same ones.
    context = msgspec.structs.replace(
        CONTEXT,
        idempotency_key=key,
        principal=msgspec.structs.replace(CONTEXT.principal, id=principal),
    )
    namespace = uuid.UUID("6f1c6a52-2f0e-4a3c-9d55-0c1f2b9a7e10")

    made = context.new_id(purpose)

    assert type(made) is uuid.UUID
    assert made == uuid.uuid5(namespace, f"{purpose}:{principal}:{key}")
