"""The projector's health as the API shows it: each read model's position, lag, state and
quarantine."""

from __future__ import annotations

import msgspec
from litestar import Controller, get
from litestar.datastructures import State

from adapters.http.answers import PROBLEM
from adapters.http.security import Req
from projections.status import ProjectionStatus, projection_status


class ProjectionList(msgspec.Struct, frozen=True, kw_only=True):
    projections: list[ProjectionStatus]


class ProjectionsController(Controller):
    path = "/api/v1/projections"
    tags = ["projections"]

    @get(
        "/",
        operation_id="listProjections",
        summary="Each projection's version, position, lag behind the event feed, state, and "
        "quarantine (events set aside because a handler failed on them)",
        responses={401: PROBLEM, 403: PROBLEM, 429: PROBLEM, 503: PROBLEM},
    )
    async def list_projections(self, request: Req, state: State) -> ProjectionList:
        # Global state: only a principal over every project may see it.
        request.user.require("read", None, "audit")
        return ProjectionList(projections=await projection_status(state.pool))


ROUTES = [ProjectionsController]
