"""Runners: register (again under the same name), heartbeat, deregister; `runner` scope."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Response, post
from litestar.params import FromPath, JSONBody
from msgspec import Meta

from adapters.http.answers import answers
from adapters.http.commanding import execute
from adapters.http.security import Req
from commands.runners import (
    JOBS_MAX,
    DeregisterRunner,
    RecordHeartbeat,
    RegisterRunner,
    RunningJob,
)
from domain.limits import ITEMS_MAX, Concurrency, Host, Key, Keyword, VersionText


class RunnerRegistration(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Key
    """Unique per runner process: the runner's id is derived from it."""
    labels: Annotated[tuple[Keyword, ...], Meta(max_length=ITEMS_MAX)]
    host: Host
    version: VersionText
    concurrency: Concurrency


class Heartbeat(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    jobs: tuple[RunningJob, ...] = msgspec.field(default=())
    """The step attempts it is running now."""


_decoder = msgspec.json.Decoder(dict[str, Any])


class RunnersController(Controller):
    path = "/api/v1/runners"
    tags = ["runners"]

    @post(
        "/",
        operation_id="registerRunner",
        status_code=201,
        responses=answers(201),
        description="The answer's `runner_id` (also its `id`) is derived from the name: "
        "registering a name again re-registers that runner, and whatever it ran is lost.",
    )
    async def register(self, request: Req, data: JSONBody[RunnerRegistration]) -> Response[bytes]:
        command = RegisterRunner(**msgspec.structs.asdict(data))
        answer = await execute(request, command, status=201)
        if answer.status_code != 201:
            return answer
        body = _decoder.decode(answer.content)
        # Also on an idempotent replay: the stored answer is the plain command answer.
        answer.content = msgspec.json.encode({"runner_id": body["id"], **body})
        return answer

    @post(
        "/{runner_id:uuid}/heartbeat",
        operation_id="runnerHeartbeat",
        responses=answers(202),
        description=f"At most {JOBS_MAX} jobs. A lost or deregistered runner gets 409 "
        "`runner_not_active`: it must register again.",
    )
    async def heartbeat(
        self, request: Req, runner_id: FromPath[UUID], data: JSONBody[Heartbeat | None] = None
    ) -> Response[bytes]:
        jobs = data.jobs if data else ()
        return await execute(request, RecordHeartbeat(runner_id=runner_id, jobs=jobs))

    @post(
        "/{runner_id:uuid}/deregister",
        operation_id="deregisterRunner",
        responses=answers(202),
    )
    async def deregister(self, request: Req, runner_id: FromPath[UUID]) -> Response[bytes]:
        return await execute(request, DeregisterRunner(runner_id=runner_id))
