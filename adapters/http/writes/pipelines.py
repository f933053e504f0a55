"""Pipelines: versioned definitions; updating appends a version, deleting archives."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Response, delete, post, put
from litestar.params import FromPath, HeaderParameter, JSONBody
from msgspec import Meta

from adapters.http.answers import answers
from adapters.http.commanding import execute
from adapters.http.problems import problem
from adapters.http.security import Req
from adapters.http.writes.pipeline_yaml import placed, yaml_request
from adapters.pipeline_code.document import SCHEMA_PATH
from adapters.pipeline_code.yaml_text import YAML_MAX_BYTES
from commands.pipelines import (
    ActivatePipeline,
    ArchivePipeline,
    CreatePipeline,
    DeactivatePipeline,
    DefinePipelineVersion,
)
from domain.concurrency_spec import ConcurrencySpec
from domain.errors import InvalidValue
from domain.limits import ITEMS_MAX, STEPS_MAX, Description, Name, Tag
from domain.parameter_spec import ParameterSpec
from domain.pipeline_definition import PipelineDefinition
from domain.pipeline_file import RepositoryFileSpec
from domain.step_spec import StepSpec
from domain.trigger_spec import TriggerSpec

MAX_VERSION = 2**63 - 1


class PipelineCreate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    project_id: UUID
    name: Name
    steps: Annotated[tuple[StepSpec, ...], Meta(max_length=STEPS_MAX)]
    description: Description = ""
    tags: Annotated[tuple[Tag, ...], Meta(max_length=ITEMS_MAX)] = ()
    parameters: Annotated[tuple[ParameterSpec, ...], Meta(max_length=ITEMS_MAX)] = ()
    triggers: Annotated[tuple[TriggerSpec, ...], Meta(max_length=ITEMS_MAX)] = ()
    concurrency: ConcurrencySpec | None = None
    step_statuses: bool = False
    """Report each step to the commit as its own status or check run, too."""
    repository_file: RepositoryFileSpec | None = None

    def definition(self) -> PipelineDefinition:
        fields = msgspec.structs.asdict(self)
        del fields["project_id"]
        return PipelineDefinition(**fields)


class PipelineUpdate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A new version: the definition's fields, or what `GET /api/v1/pipelines/{id}` answered,
    sent back as it is (its `definition` is used; `id` and `project_id` must be the pipeline's
    own; the other fields GET shows are read-only and ignored)."""

    name: Name | None = None
    steps: Annotated[tuple[StepSpec, ...], Meta(max_length=STEPS_MAX)] | None = None
    description: Description | None = None
    tags: Annotated[tuple[Tag, ...], Meta(max_length=ITEMS_MAX)] | None = None
    parameters: Annotated[tuple[ParameterSpec, ...], Meta(max_length=ITEMS_MAX)] | None = None
    triggers: Annotated[tuple[TriggerSpec, ...], Meta(max_length=ITEMS_MAX)] | None = None
    concurrency: ConcurrencySpec | None = None
    definition: PipelineDefinition | None = None
    id: UUID | None = None
    project_id: UUID | None = None
    # What GET answers besides the definition: read-only, accepted so a fetched body goes back.
    current_version: int | None = None
    stream_version: int | None = None
    active: bool | None = None
    status: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    last_run_id: str | None = None
    last_run_status: str | None = None
    last_run_at: str | None = None
    runs_total: int | None = None
    runs_succeeded: int | None = None
    runs_failed: int | None = None
    runs_cancelled: int | None = None
    runs_timed_out: int | None = None
    degraded: bool | None = None
    schedules: Annotated[list[Any], Meta(max_length=ITEMS_MAX)] | None = None
    step_statuses: bool | None = None
    repository_file: RepositoryFileSpec | None = None

    def to_definition(self) -> PipelineDefinition:
        if self.definition is not None:
            return self.definition
        if self.name is None or self.steps is None:
            raise problem(422, "invalid_body", "give `name` and `steps`, or a `definition`")
        given = {
            k: v
            for k in (
                "description",
                "tags",
                "parameters",
                "triggers",
                "concurrency",
                "step_statuses",
                "repository_file",
            )
            if (v := getattr(self, k)) is not None
        }
        return PipelineDefinition(name=self.name, steps=self.steps, **given)


def _if_match(value: str | None) -> int | None:
    """The stream version in If-Match: the ETag GET answered (`"3"`, also `W/"3"` or `3`)."""
    if value is None:
        return None
    version = value.strip().removeprefix("W/").strip('"')
    # Digits only and at most a bigint: a stream version, never `1_0` or a megabyte of nines.
    if not (
        version.isascii()
        and version.isdigit()
        and len(version) <= 20
        and 0 < int(version) <= MAX_VERSION
    ):
        raise problem(
            422,
            "invalid_if_match",
            'If-Match must be the ETag GET answered: the stream version, like "3"',
        )
    return int(version)


class PipelinesController(Controller):
    path = "/api/v1/pipelines"
    tags = ["pipelines"]

    @post(
        "/",
        operation_id="createPipeline",
        status_code=201,
        responses=answers(201),
        request_class=yaml_request(PipelineCreate),
        description="Creates the pipeline at version 1. The definition may be sent as YAML "
        f"(`Content-Type: application/yaml`, the format of `{SCHEMA_PATH}`, with `project_id`), "
        "refused as PUT refuses it: a 422 naming the `field` and its `line` and `column`.",
    )
    async def create(self, request: Req, data: JSONBody[PipelineCreate]) -> Response[bytes]:
        command = CreatePipeline(project_id=data.project_id, definition=data.definition())
        try:
            return await execute(request, command, status=201)
        except InvalidValue as error:
            raise placed(request, error) from None

    @put(
        "/{pipeline_id:uuid}",
        operation_id="definePipelineVersion",
        status_code=202,
        responses=answers(202),
        request_class=yaml_request(PipelineUpdate),
        description="Appends a new version; runs keep the version they started with. The body "
        "is the definition, or what GET answered, sent back as it is. `If-Match` takes the ETag "
        "GET answered (the stream version): another write since then is a 409. The same "
        "definition may be sent as YAML (`Content-Type: application/yaml`, the format of "
        f"`{SCHEMA_PATH}`): loaded safely (plain data, no aliases, at most {YAML_MAX_BYTES} "
        "bytes); a refusal names the `field` and its `line` and `column`.",
    )
    async def update(
        self,
        request: Req,
        pipeline_id: FromPath[UUID],
        data: JSONBody[PipelineUpdate],
        if_match: Annotated[str | None, HeaderParameter(name="If-Match")] = None,
    ) -> Response[bytes]:
        if data.id is not None and data.id != pipeline_id:
            raise problem(
                422, "invalid_body", "`id` is not this pipeline's: omit it or send its own"
            )
        command = DefinePipelineVersion(
            pipeline_id=pipeline_id,
            definition=data.to_definition(),
            expected_version=_if_match(if_match),
            project_id=data.project_id,
        )
        try:
            return await execute(request, command)
        except InvalidValue as error:
            raise placed(request, error) from None

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
