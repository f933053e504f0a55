"""The Environment aggregate: a project's deploy target (`staging`, `production`) and its rules.

Its id is derived from the project and the name, so `PUT .../environments/{name}` creates the
environment the first time and updates it afterwards, and a run finds it without a lookup.

Protection rules, checked when a run is requested for each step that targets it:
- `required_approvals` distinct approvals (from `approvers` when listed, otherwise any holder
  of the approve scope) before the step is queued; `approval_timeout_s` later it is rejected.
- `branches` / `tags`: globs a run's ref must match, as a trigger's do (none: any ref).
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.approval_spec import APPROVERS_MAX, check_approvers, check_environment_name
from domain.approver_group import groups_in
from domain.errors import InvalidValue
from domain.moments import require_aware
from domain.run_values import Gate
from domain.trigger_spec import TriggerSpec

ENVIRONMENT_NAMESPACE = UUID("3c0e7f4a-5d8b-5e21-a9f6-7b2d1c4e8a90")
"""Fixed forever: an environment's id is derived from it, its project and its name."""
APPROVALS_MAX = 10
DEFAULT_APPROVAL_TIMEOUT_S = 86_400


def environment_id(project_id: UUID, name: str) -> UUID:
    return uuid5(ENVIRONMENT_NAMESPACE, f"{project_id}/{name}")


class Environment(Aggregate):
    """Configured once, then reconfigured: each version of its rules is one event."""

    stream_type = "environment"

    class Event(Aggregate.Event):
        pass

    class Configured(Event, Aggregate.Created):
        event_type: ClassVar[str] = "EnvironmentConfigured"
        project_id: UUID
        name: str
        required_approvals: int
        approvers: tuple[str, ...]
        branches: tuple[str, ...]
        tags: tuple[str, ...]
        approval_timeout_s: int

    class Reconfigured(Event):
        event_type: ClassVar[str] = "EnvironmentReconfigured"
        required_approvals: int
        approvers: tuple[str, ...]
        branches: tuple[str, ...]
        tags: tuple[str, ...]
        approval_timeout_s: int

        def apply(self, aggregate: Environment) -> None:
            aggregate.required_approvals = self.required_approvals
            aggregate.approvers = self.approvers
            aggregate.branches = self.branches
            aggregate.tags = self.tags
            aggregate.approval_timeout_s = self.approval_timeout_s

    def __init__(
        self,
        project_id: UUID,
        name: str,
        required_approvals: int,
        approvers: tuple[str, ...],
        branches: tuple[str, ...],
        tags: tuple[str, ...],
        approval_timeout_s: int,
    ) -> None:
        self.project_id = project_id
        self.name = name
        self.required_approvals = required_approvals
        self.approvers = approvers
        self.branches = branches
        self.tags = tags
        self.approval_timeout_s = approval_timeout_s

    @classmethod
    def configure(
        cls,
        *,
        project_id: UUID,
        name: str,
        required_approvals: int = 0,
        approvers: tuple[str, ...] = (),
        branches: tuple[str, ...] = (),
        tags: tuple[str, ...] = (),
        approval_timeout_s: int = DEFAULT_APPROVAL_TIMEOUT_S,
        at: datetime,
    ) -> Environment:
        require_aware(at)
        check_environment_name(name, "name")
        rules = _valid_rules(required_approvals, approvers, branches, tags, approval_timeout_s)
        return cls._create(
            cls.Configured,
            id=environment_id(project_id, name),
            timestamp=at,
            project_id=project_id,
            name=name,
            **rules,
        )

    def reconfigure(
        self,
        *,
        required_approvals: int = 0,
        approvers: tuple[str, ...] = (),
        branches: tuple[str, ...] = (),
        tags: tuple[str, ...] = (),
        approval_timeout_s: int = DEFAULT_APPROVAL_TIMEOUT_S,
        at: datetime,
    ) -> None:
        """New rules; the same rules again decide nothing (a PUT repeated is harmless)."""
        require_aware(at)
        rules = _valid_rules(required_approvals, approvers, branches, tags, approval_timeout_s)
        if rules == self.rules():
            return
        self.trigger_event(self.Reconfigured, timestamp=at, **rules)

    def rules(self) -> dict[str, object]:
        return {
            "required_approvals": self.required_approvals,
            "approvers": self.approvers,
            "branches": self.branches,
            "tags": self.tags,
            "approval_timeout_s": self.approval_timeout_s,
        }

    def refusal(self, ref: str | None) -> str | None:
        """Why a run on `ref` may not deploy here, or None when it may."""
        if not (self.branches or self.tags):
            return None
        spec = TriggerSpec(source="api", branches=self.branches, tags=self.tags)
        # A run asked for by name (`main`) means the branch, as `git push origin main` does.
        full = ref if ref is None or ref.startswith("refs/") else f"refs/heads/{ref}"
        if spec.matches("api", "deploy", full):
            return None
        allowed = ", ".join([*self.branches, *(f"tag {t}" for t in self.tags)])
        where = f"ref {ref!r}" if ref else "a run without a ref"
        return f"{where} may not deploy to environment {self.name!r} (allowed: {allowed})"

    def gate(self, step_approvers: tuple[str, ...] = ()) -> Gate | None:
        """What holds a step targeting this environment, or None when nothing does."""
        if self.required_approvals == 0:
            return None
        return Gate(
            prompt=f"deploy to {self.name}",
            approvers=self.approvers or step_approvers,
            required=self.required_approvals,
            timeout_s=self.approval_timeout_s,
            on_timeout="reject",
        )


def _valid_rules(
    required_approvals: int,
    approvers: tuple[str, ...],
    branches: tuple[str, ...],
    tags: tuple[str, ...],
    approval_timeout_s: int,
) -> dict[str, object]:
    if not 0 <= required_approvals <= APPROVALS_MAX:
        raise InvalidValue("required_approvals", f"must be from 0 to {APPROVALS_MAX}")
    approvers, branches, tags = tuple(approvers), tuple(branches), tuple(tags)
    check_approvers(approvers, "approvers")
    if len(approvers) > APPROVERS_MAX:
        raise InvalidValue("approvers", f"at most {APPROVERS_MAX}")
    # A group may hold any number of people: only a list of principals alone bounds it.
    if approvers and required_approvals > len(approvers) and not groups_in(approvers):
        raise InvalidValue("required_approvals", "more than the approvers listed could give")
    # The trigger's own checks: the same globs, the same rules and messages.
    TriggerSpec(source="api", branches=branches, tags=tags).check("rules")
    if not 1 <= approval_timeout_s <= 30 * 86_400:
        raise InvalidValue("approval_timeout_s", "must be from 1 to 2592000 (30 days)")
    return {
        "required_approvals": required_approvals,
        "approvers": approvers,
        "branches": branches,
        "tags": tags,
        "approval_timeout_s": approval_timeout_s,
    }
