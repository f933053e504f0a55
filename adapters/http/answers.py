"""OpenAPI descriptions shared by every command route, and the problem every error answers."""

import msgspec
from litestar.openapi import ResponseSpec

from adapters.http.commanding import CommandAnswer


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    """RFC 9457 problem details. Some codes add members (`parameter`, `field`, `header`,
    `request_id`, `current_state`, ...); the README lists the codes."""

    status: int
    title: str
    detail: str
    code: str
    """Stable, for programs: what went wrong."""


PROBLEM = ResponseSpec(
    data_container=Problem, media_type="application/problem+json", description="problem details"
)


def answers(status: int) -> dict[int, ResponseSpec]:
    return {
        status: ResponseSpec(data_container=CommandAnswer, description="the stream written"),
        401: PROBLEM,
        403: PROBLEM,
        404: PROBLEM,
        409: PROBLEM,
        413: PROBLEM,
        422: PROBLEM,
        429: PROBLEM,
        503: PROBLEM,
    }
