"""A runner tells which Jenkins build its jenkins step's attempt started (`runner` scope)."""

from __future__ import annotations

from uuid import UUID

import msgspec
from litestar import Controller, Response, post
from litestar.params import FromPath, JSONBody

from adapters.http.answers import answers
from adapters.http.commanding import execute
from adapters.http.security import Req
from commands.jenkins_builds import RecordJenkinsBuild
from domain.limits import Key, Positive32, Url


class BuildLink(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    step: Key
    attempt: Positive32
    runner: Key | None = None
    """The runner id it claimed the attempt with (its "running" report's `runner`)."""
    number: Positive32 | None = None
    """The build number Jenkins gave the queued build (`executable.number`); left out just
    before the runner asks Jenkins for the build."""
    url: Url | None = None
    """The build's page (`executable.url`), with its number."""


class JenkinsBuildsController(Controller):
    path = "/api/v1/pipeline-runs"
    tags = ["runs"]

    @post(
        "/{run_id:uuid}/jenkins-builds",
        operation_id="linkJenkinsBuild",
        status_code=202,
        responses=answers(202),
        description="For runners (`runner` scope): the Jenkins build a jenkins step's running "
        "attempt is about to request (no `number`: JenkinsBuildRequested) or started (with "
        "`number` and `url`: JenkinsBuildLinked); server and job come from the run's pinned "
        "definition. Jenkins' own notifications about that build are then folded into this "
        "run. 409 when the attempt is not running on the asking runner.",
    )
    async def link(
        self, request: Req, run_id: FromPath[UUID], data: JSONBody[BuildLink]
    ) -> Response[bytes]:
        command = RecordJenkinsBuild(
            run_id=run_id,
            step=data.step,
            attempt=data.attempt,
            number=data.number,
            url=data.url,
            runner=data.runner,
        )
        return await execute(request, command)
