"""Project secrets: set a value (write-only) and delete it. Listing is in `reads/secrets.py`.

No Idempotency-Key here: the replay store keeps a hash of the request's body, and a hash of a
short secret is a way to guess it. PUT is idempotent anyway (the same value again is no new
version), and DELETE of a deleted secret is a 404 that changes nothing.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, delete, put
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody

from adapters.http.answers import answers
from adapters.http.commanding import command_context
from adapters.http.own_writes import note_write
from adapters.http.security import Req
from commands.context import Principal
from commands.secrets import DeleteSecret, SecretWritten, SetSecret
from domain.limits import EnvironmentName, SecretName, SecretValue


class SecretPut(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    value: SecretValue
    """The secret's value: kept encrypted, never shown again by any API."""
    environment: EnvironmentName | None = None
    """Bind the value to one environment; a step running there prefers it to the pipeline's and
    the project-wide one of the same name."""
    pipeline_id: UUID | None = None
    """Bind the value to one pipeline of the project (not with `environment`); its steps prefer
    it to the project-wide one of the same name."""

    def __repr__(self) -> str:
        return (
            f"SecretPut(environment={self.environment!r}, pipeline_id={self.pipeline_id}, "
            "value=<redacted>)"
        )


class SecretAnswer(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Where the secret's stream stands, and which version of the value now holds."""

    id: str
    version: int
    secret_version: int
    position: int | None = None
    """None when nothing was written (the same value again)."""


def _answers(status: int) -> dict[int, ResponseSpec]:
    shown = ResponseSpec(data_container=SecretAnswer, description="the version now held")
    return {**answers(status), status: shown}


async def _run(request: Request[Principal, Any, Any], command: object) -> Response[SecretAnswer]:
    services = request.app.state.services
    context = command_context(request.user, request.headers, idempotency_key=None)
    result = await services.bus.dispatch(command, context)
    assert isinstance(result, SecretWritten)
    note_write(request, result.position)
    answer = SecretAnswer(
        id=result.id,
        version=result.version,
        secret_version=result.secret_version,
        position=result.position,
    )
    return Response(answer, status_code=200)


class SecretsController(Controller):
    path = "/api/v1/projects/{project_id:uuid}/secrets"
    tags = ["secrets"]

    @put(
        "/{name:str}",
        operation_id="setSecret",
        responses=_answers(200),
        description="Set the secret `name` of the project (a `write` key of it): a first value "
        "or a new version. The value is encrypted at rest under a data key of its own and "
        "never answered by any API; events record the name, version, who and a keyed "
        "fingerprint. The same value again writes nothing. Idempotency-Key is not taken here. "
        "`environment` or `pipeline_id` (not both) binds the value to that scope: a step gets "
        "its environment's value, else its pipeline's, else the project-wide one.",
    )
    async def set_value(
        self,
        request: Req,
        project_id: FromPath[UUID],
        name: FromPath[SecretName],
        data: JSONBody[SecretPut],
    ) -> Response[SecretAnswer]:
        command = SetSecret(
            project_id=project_id,
            name=name,
            value=data.value,
            environment=data.environment,
            pipeline_id=data.pipeline_id,
        )
        return await _run(request, command)

    @delete(
        "/{name:str}",
        operation_id="deleteSecret",
        status_code=200,
        responses=_answers(200),
        description="Delete the secret: its value is destroyed (its data key with it) and "
        "cannot be recovered; the deletion is on record. `environment` or `pipeline_id` names "
        "the bound one.",
    )
    async def delete_value(
        self,
        request: Req,
        project_id: FromPath[UUID],
        name: FromPath[SecretName],
        environment: FromQuery[EnvironmentName | None] = None,
        pipeline_id: FromQuery[UUID | None] = None,
    ) -> Response[SecretAnswer]:
        command = DeleteSecret(
            project_id=project_id, name=name, environment=environment, pipeline_id=pipeline_id
        )
        return await _run(request, command)
