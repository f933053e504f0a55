"""The Run's gates: a step held for people's approval, and a step its environment refuses.

- A ready step with a gate (an approval step, or a step targeting a protected environment)
  is not queued: `ApprovalRequested` puts it in `waiting_for_approval` with a deadline.
- Each decision is one `ApprovalDecided` naming who, what, the comment and the inputs. One
  rejection fails the step (its dependants are skipped, as after any failure); `required`
  distinct approvals open the gate. An opened approval step succeeds with the inputs as its
  outputs; an opened run step goes back to pending, approved, and is queued like any other.
- Past the deadline `expire_approval` decides the gate's `on_timeout` outcome, as the system.
- A step whose plan is `refused` (its branch is not allowed in its environment) fails
  before it runs, with that reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from domain.approval_spec import DECISIONS, resolve_inputs
from domain.errors import IllegalTransition, InvalidValue
from domain.limits import KEY_MAX
from domain.moments import require_aware
from domain.run_state import RunState
from domain.run_statuses import RunStatus, StepStatus
from domain.value_checks import valid_outputs, valid_text

WAITING = StepStatus.WAITING_FOR_APPROVAL
TIMEOUT_ACTOR = "system:approval-timeout"
"""The principal a decision taken by a gate's timeout is recorded under."""


class ApprovalCommands:
    """Mixed into Run: opening ready steps through their gates, and deciding those gates."""

    def _open_step(self: RunState, step: str, at: datetime) -> None:
        """A ready step goes ahead: refused, waiting for approval, or queued."""
        plan, state = self.plan[step], self.steps[step]
        if plan.refused:
            self.trigger_event(
                self.StepFailed,
                step=step,
                attempt=0,
                exit_code=None,
                reason=plan.refused,
                duration_ms=0,
                outputs={},
                metrics={},
                timestamp=at,
            )
            self._skip_dependants(step, at)
        elif plan.gate is not None and not state.approved:
            if self.status is RunStatus.QUEUED:
                self.trigger_event(self.Started, timestamp=at)
            self.trigger_event(
                self.ApprovalRequested,
                step=step,
                project_id=self.project_id,
                prompt=plan.gate.prompt,
                approvers=plan.gate.approvers,
                required=plan.gate.required,
                environment=plan.environment,
                deadline=at + timedelta(seconds=plan.gate.timeout_s),
                timestamp=at,
            )
        else:
            self.trigger_event(self.StepQueued, step=step, attempt=1, timestamp=at)

    def _require_ungated(self: RunState, step: str) -> None:
        plan, state = self.plan[step], self.steps[step]
        if plan.refused or (plan.gate is not None and not state.approved):
            raise IllegalTransition("step", "held by its gate", "queue")

    def waiting_for_approval(self: RunState) -> tuple[str, ...]:
        """The steps that wait for a decision, in plan order."""
        return tuple(name for name, state in self.steps.items() if state.status is WAITING)

    def decide_approval(
        self: RunState,
        step: str,
        *,
        decision: str,
        principal: str,
        actor: str,
        comment: str = "",
        inputs: Mapping[str, object] | None = None,
        group: str | None = None,
        at: datetime,
    ) -> None:
        """Record one person's decision on a waiting gate; a second one by them is refused.
        `group`: the approver group that admitted them, recorded with the decision."""
        require_aware(at)
        if decision not in DECISIONS:
            raise InvalidValue("decision", "must be approve or reject")
        principal = valid_text("principal", principal, limit=KEY_MAX)
        actor = valid_text("actor", actor, limit=KEY_MAX)
        comment = valid_text("comment", comment, blank=True)
        state = self._step(step)
        self._require_step(state, (WAITING,), "decide an approval on")
        if principal in state.approvals:
            raise IllegalTransition("approval", f"already approved by {principal}", "decide")
        gate = self.plan[step].gate
        assert gate is not None  # only a gated step waits
        given = dict(inputs or {})
        outputs = resolve_inputs(gate.inputs, given, partial=decision == "reject")
        opens = decision == "approve" and len(state.approvals) + 1 >= gate.required
        if group is not None and f"group:{group}" not in gate.approvers:
            raise InvalidValue("group", f"{group!r} is not among the approvers of step {step}")
        self._decide(
            step, decision, principal, actor, comment, outputs, opens, False, at, group=group
        )

    def expire_approval(self: RunState, step: str, *, at: datetime) -> None:
        """Past its deadline, the waiting gate takes its `on_timeout` outcome."""
        require_aware(at)
        state = self._step(step)
        self._require_step(state, (WAITING,), "time out an approval on")
        assert state.deadline is not None and self.plan[step].gate is not None
        if at < state.deadline:
            raise IllegalTransition("approval", f"open until {state.deadline}", "time out")
        gate = self.plan[step].gate
        outputs = resolve_inputs(gate.inputs, {}, partial=gate.on_timeout == "reject")
        comment = f"no decision within {gate.timeout_s}s: {gate.on_timeout} by default"
        opens = gate.on_timeout == "approve"
        self._decide(
            step, gate.on_timeout, TIMEOUT_ACTOR, TIMEOUT_ACTOR, comment, outputs, opens, True, at
        )

    def _decide(
        self: RunState,
        step: str,
        decision: str,
        principal: str,
        actor: str,
        comment: str,
        outputs: dict[str, str],
        opens: bool,
        timed_out: bool,
        at: datetime,
        *,
        group: str | None = None,
    ) -> None:
        outputs = valid_outputs(outputs)
        self.trigger_event(
            self.ApprovalDecided,
            step=step,
            decision=decision,
            principal=principal,
            actor=actor,
            comment=comment,
            inputs=outputs,
            timed_out=timed_out,
            opens=opens,
            group=group,
            timestamp=at,
        )
        waited_ms = max(0, (at - (self.steps[step].queued_at or at)) // timedelta(milliseconds=1))
        if decision == "reject":
            who = "the timeout" if timed_out else actor
            reason = f"rejected by {who}" + (f": {comment}" if comment else "")
            self.trigger_event(
                self.StepFailed,
                step=step,
                attempt=1,
                exit_code=None,
                reason=valid_text("reason", reason[:2000]),
                duration_ms=waited_ms,
                outputs={},
                metrics={},
                timestamp=at,
            )
            self._skip_dependants(step, at)
            self._settle(at)
        elif opens and self.plan[step].kind == "approval":
            self.trigger_event(
                self.StepSucceeded,
                step=step,
                attempt=1,
                exit_code=0,
                duration_ms=waited_ms,
                outputs=outputs,
                metrics={},
                timestamp=at,
            )
            self._settle(at)
