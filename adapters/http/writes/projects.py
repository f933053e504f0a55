"""Projects: the namespaces that own pipelines, webhook sources and keys."""

from __future__ import annotations

from uuid import UUID

import msgspec
from litestar import Controller, Response, delete, post
from litestar.params import FromPath, JSONBody

from adapters.http.answers import answers
from adapters.http.commanding import execute
from adapters.http.security import Req
from commands.projects import ArchiveProject, CreateProject, RenameProject
from domain.limits import Description, Name, Slug


class ProjectCreate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Name
    slug: Slug
    description: Description = ""


class ProjectRename(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Name


class ProjectsController(Controller):
    path = "/api/v1/projects"
    tags = ["projects"]

    @post("/", operation_id="createProject", status_code=201, responses=answers(201))
    async def create(self, request: Req, data: JSONBody[ProjectCreate]) -> Response[bytes]:
        command = CreateProject(name=data.name, slug=data.slug, description=data.description)
        return await execute(request, command, status=201)

    @post("/{project_id:uuid}/rename", operation_id="renameProject", responses=answers(202))
    async def rename(
        self, request: Req, project_id: FromPath[UUID], data: JSONBody[ProjectRename]
    ) -> Response[bytes]:
        return await execute(request, RenameProject(project_id=project_id, name=data.name))

    @delete(
        "/{project_id:uuid}", operation_id="archiveProject", status_code=202, responses=answers(202)
    )
    async def archive(self, request: Req, project_id: FromPath[UUID]) -> Response[bytes]:
        return await execute(request, ArchiveProject(project_id=project_id))
