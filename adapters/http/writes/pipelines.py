"""Pipelines: versioned definitions; updating appends a version, deleting archives."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import msgspec
from litestar import Controller, Response, delete, post, put
from litestar.params import FromPath, HeaderParameter, JSONBody
from msgspec import Meta

from adapters.http.answers import answers
from adapters.http.commanding import execute
from adapters.http.problems import problem
from adapters.http.security import Req
from commands.pipelines import (
    ActivatePipeline,
    ArchivePipeline,
    CreatePipeline,
    DeactivatePipeline,
    DefinePipelineVersion,
)
from domain.limits import ITEMS_MAX, STEPS_MAX, Description, Name
from domain.pipeline_definition import (
    ParameterSpec,
    PipelineDefinition,
    StepSpec,
    Tag,
    TriggerSpec,
)

MAX_VERSION = 2**63 - 1


class PipelineCreate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    project_id: UUID
    name: Name
    steps: Annotated[tuple[StepSpec, ...], Meta(max_length=STEPS_MAX)]
    description: Description = ""
    tags: Annotated[tuple[Tag, ...], Meta(max_length=ITEMS_MAX)] = ()
    parameters: Annotated[tuple[ParameterSpec, ...], Meta(max_length=ITEMS_MAX)] = ()
    triggers: Annotated[tuple[TriggerSpec, ...], Meta(max_length=ITEMS_MAX)] = ()

    def definition(self) -> PipelineDefinition:
        fields = msgspec.structs.asdict(self)
        del fields["project_id"]
        return PipelineDefinition(**fields)


def _if_match(value: str | None) -> int | None:
    if value is None:
        return None
    version = value.strip().strip('"')
    # Digits only and at most a bigint: a stream version, never `1_0` or a megabyte of nines.
    if not (
        version.isascii()
        and version.isdigit()
        and len(version) <= 20
        and 0 < int(version) <= MAX_VERSION
    ):
        raise problem(422, "invalid_if_match", 'If-Match must be a stream version, like "3"')
    return int(version)


class PipelinesController(Controller):
    path = "/api/v1/pipelines"
    tags = ["pipelines"]

    @post("/", operation_id="createPipeline", status_code=201, responses=answers(201))
    async def create(self, request: Req, data: JSONBody[PipelineCreate]) -> Response[bytes]:
        command = CreatePipeline(project_id=data.project_id, definition=data.definition())
        return await execute(request, command, status=201)

    @put(
        "/{pipeline_id:uuid}",
        operation_id="definePipelineVersion",
        status_code=202,
        responses=answers(202),
        description="Appends a new version; runs keep the version they started with.",
    )
    async def update(
        self,
        request: Req,
        pipeline_id: FromPath[UUID],
        data: JSONBody[PipelineDefinition],
        if_match: Annotated[str | None, HeaderParameter(name="If-Match")] = None,
    ) -> Response[bytes]:
        command = DefinePipelineVersion(
            pipeline_id=pipeline_id, definition=data, expected_version=_if_match(if_match)
        )
        return await execute(request, command)

    @delete(
        "/{pipeline_id:uuid}",
        operation_id="archivePipeline",
        status_code=202,
        responses=answers(202),
        description="Archives the pipeline; its history stays.",
    )
    async def archive(self, request: Req, pipeline_id: FromPath[UUID]) -> Response[bytes]:
        return await execute(request, ArchivePipeline(pipeline_id=pipeline_id))

    @post("/{pipeline_id:uuid}/activate", operation_id="activatePipeline", responses=answers(202))
    async def activate(self, request: Req, pipeline_id: FromPath[UUID]) -> Response[bytes]:
        return await execute(request, ActivatePipeline(pipeline_id=pipeline_id))

    @post(
        "/{pipeline_id:uuid}/deactivate", operation_id="deactivatePipeline", responses=answers(202)
    )
    async def deactivate(self, request: Req, pipeline_id: FromPath[UUID]) -> Response[bytes]:
        return await execute(request, DeactivatePipeline(pipeline_id=pipeline_id))
