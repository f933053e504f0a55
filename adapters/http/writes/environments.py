"""Environments: a project's deploy targets and their protection rules, created or updated."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import msgspec
from litestar import Controller, Response, put
from litestar.params import FromPath, JSONBody
from msgspec import Meta

from adapters.http.answers import answers
from adapters.http.commanding import execute
from adapters.http.security import Req
from commands.environments import ConfigureEnvironment
from domain.approval_spec import APPROVERS_MAX
from domain.environment import APPROVALS_MAX, DEFAULT_APPROVAL_TIMEOUT_S
from domain.limits import ITEMS_MAX, Glob, Key


class EnvironmentRules(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    required_approvals: Annotated[int, Meta(ge=0, le=APPROVALS_MAX)] = 0
    """Distinct approvals a step targeting the environment waits for (0: none)."""
    approvers: Annotated[tuple[Key, ...], Meta(max_length=APPROVERS_MAX)] = ()
    """Who may approve (`key:<api key id>`, `jwt:<subject>`); empty: any `approve` holder."""
    branches: Annotated[tuple[Glob, ...], Meta(max_length=ITEMS_MAX)] = ()
    """Branch globs a run's ref must match to deploy here (with tags empty too: any ref)."""
    tags: Annotated[tuple[Glob, ...], Meta(max_length=ITEMS_MAX)] = ()
    approval_timeout_s: Annotated[int, Meta(ge=1, le=30 * 86_400)] = DEFAULT_APPROVAL_TIMEOUT_S
    """After this long without enough approvals, the step is rejected."""


class EnvironmentsController(Controller):
    path = "/api/v1/projects"
    tags = ["environments"]

    @put(
        "/{project_id:uuid}/environments/{name:str}",
        operation_id="configureEnvironment",
        status_code=202,
        responses=answers(202),
        description="Create the environment, or replace its rules (the `admin` scope).",
    )
    async def configure(
        self,
        request: Req,
        project_id: FromPath[UUID],
        name: FromPath[str],
        data: JSONBody[EnvironmentRules],
    ) -> Response[bytes]:
        rules = msgspec.structs.asdict(data)
        command = ConfigureEnvironment(project_id=project_id, name=name, **rules)
        return await execute(request, command)
