"""OpenAPI descriptions shared by every command route."""

from litestar.openapi import ResponseSpec

from adapters.http.commanding import CommandAnswer

PROBLEM = ResponseSpec(
    data_container=dict, media_type="application/problem+json", description="problem details"
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
