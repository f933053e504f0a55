"""A runner fetches the project secrets of the attempt it runs: once, on record, never stored.

Not through the job on NATS (a broker keeps messages) nor in any event: the runner asks with
its own key, for the attempt it claimed, and the answer is marked `no-store`.
"""

from __future__ import annotations

from uuid import UUID

import msgspec
from litestar import Controller, Response, post
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, JSONBody

from adapters.http.answers import answers
from adapters.http.commanding import command_context
from adapters.http.security import Req
from commands.step_secrets import ReceiveStepSecrets, SecretsGiven
from domain.limits import Key, Positive32
from domain.run_secrets import SecretUse


class SecretsRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    step: Key
    attempt: Positive32
    runner: Key | None = None
    """The runner id it claimed the attempt with (its "running" report's `runner`)."""


class StepSecrets(msgspec.Struct, frozen=True, kw_only=True):
    values: dict[str, str]
    """Name to value, for the step's environment: keep them in memory only, mask them."""
    used: list[SecretUse]
    """Name and version of each, as the run's StepSecretsReceived event records them."""
    position: int | None = None

    def __repr__(self) -> str:
        return f"StepSecrets(used={self.used!r}, values=<redacted>)"


class StepSecretsController(Controller):
    path = "/api/v1/pipeline-runs"
    tags = ["runs"]

    @post(
        "/{run_id:uuid}/secrets",
        operation_id="receiveStepSecrets",
        status_code=200,
        responses={
            **answers(200),
            200: ResponseSpec(data_container=StepSecrets, description="the values, this once"),
        },
        description="For runners (`runner` scope): the values of the project secrets the "
        "attempt's step declares (`secrets:`), only while that attempt runs on the asking "
        "runner. The run records a StepSecretsReceived event (names and versions) first. A "
        "secret the project does not hold is a 422 `secret_missing` naming it.",
    )
    async def receive(
        self, request: Req, run_id: FromPath[UUID], data: JSONBody[SecretsRequest]
    ) -> Response[StepSecrets]:
        services = request.app.state.services
        context = command_context(request.user, request.headers, idempotency_key=None)
        command = ReceiveStepSecrets(
            run_id=run_id, step=data.step, attempt=data.attempt, runner=data.runner
        )
        result = await services.bus.dispatch(command, context)
        assert isinstance(result, SecretsGiven)
        body = StepSecrets(values=result.values, used=list(result.used), position=result.position)
        return Response(body, status_code=200, headers={"Cache-Control": "no-store"})
