"""Approval commands: a person decides a waiting gate; the sweeper expires one past its deadline."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

from commands.approver_groups import admitting_group
from commands.bus import CommandResult, Dependencies
from commands.context import CommandContext, Forbidden, Principal
from commands.outcome import answer
from domain.limits import ITEMS_MAX, Key, ParamScalar, Reason
from domain.run import Run

SWEEPER = Principal(
    id="system:approval-sweeper",
    name="approval-sweeper",
    project_id=None,
    scopes=frozenset({"approve"}),
)
"""Who the sweeper's commands act as; the decision itself names the timeout."""


class DecideApproval(msgspec.Struct, frozen=True, kw_only=True):
    # A runner reporting a parallel step must not turn a person's decision into a 409: the
    # retry decides again on the fresh run, where a decision already taken is refused.
    retry_on_conflict: ClassVar[bool] = True
    run_id: UUID
    step: Key
    decision: Literal["approve", "reject"]
    comment: Reason = ""
    inputs: Annotated[dict[Key, ParamScalar], Meta(max_length=ITEMS_MAX)] = {}


class ExpireApproval(msgspec.Struct, frozen=True, kw_only=True):
    retry_on_conflict: ClassVar[bool] = True
    run_id: UUID
    step: Key


async def decide_approval(
    command: DecideApproval, context: CommandContext, deps: Dependencies
) -> CommandResult:
    run = await deps.repository.get(Run, command.run_id)
    principal = context.principal
    principal.require_on("approve", run, run.project_id)
    plan = run.plan.get(command.step)
    gate = plan.gate if plan is not None else None
    group = None
    if gate is not None and gate.approvers and principal.id not in gate.approvers:
        # Groups are read now, at the decision: who is in them when the gate was opened
        # does not matter.
        group = await admitting_group(deps.repository, run.project_id, gate.approvers, principal.id)
        if group is None:
            raise Forbidden(f"{principal.name} is not one of the approvers of step {command.step}")
    run.decide_approval(
        command.step,
        decision=command.decision,
        principal=principal.id,
        actor=principal.name,
        comment=command.comment,
        inputs=command.inputs,
        group=group,
        at=context.at,
    )
    return answer(run, await deps.repository.save(run, metadata=context.metadata()))


async def expire_approval(
    command: ExpireApproval, context: CommandContext, deps: Dependencies
) -> CommandResult:
    run = await deps.repository.get(Run, command.run_id)
    context.principal.require_on("approve", run, run.project_id)
    run.expire_approval(command.step, at=context.at)
    return answer(run, await deps.repository.save(run, metadata=context.metadata()))


HANDLERS = {DecideApproval: decide_approval, ExpireApproval: expire_approval}
