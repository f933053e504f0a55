"""GET /api/v1/audit/verify: recompute the hash chains of one stream, or of every stream."""

from __future__ import annotations

from litestar import get
from litestar.openapi import ResponseSpec

from adapters.audit.verify import VerifyReport, verify_all, verify_stream
from adapters.http.answers import PROBLEM
from adapters.http.audit.common import TAGS, require_auditor
from adapters.http.problems import problem
from adapters.http.reads.params import QuerySpec, boolean, invalid, text
from adapters.http.security import Req
from adapters.store.checks import MAX_STREAM_ID_LENGTH

VERIFY = QuerySpec(
    (
        text("stream", "the stream to check; leave it out to check every stream"),
        boolean("all", "true: check every stream (the same as leaving `stream` out)"),
    )
)


@get(
    "/api/v1/audit/verify",
    operation_id="verifyHashChains",
    tags=TAGS,
    operation_class=VERIFY.operation(),
    summary="Recompute the hash chains and report the first broken link of each stream",
    description=(
        "Checks one stream (`stream`) or every stream (no `stream`, or `all=true`) from the "
        "stored rows, in one snapshot. Checking everything also proves the global positions "
        "have no hole. Answers 200 either way: `ok` says whether history is intact, "
        "`first_break` where it shows first, `breaks` each broken stream's first bad link "
        "(`hash_mismatch`: altered; `version_gap`: deleted; `versions_swapped`, "
        "`out_of_order`: reordered) and each hole (`position_gap`). Needs the `audit` scope "
        "over every project."
    ),
    responses={
        200: ResponseSpec(data_container=VerifyReport, description="what the check found"),
        401: PROBLEM,
        403: PROBLEM,
        404: PROBLEM,
        422: PROBLEM,
        429: PROBLEM,
        503: PROBLEM,
    },
)
async def verify_chains(request: Req) -> VerifyReport:
    query = VERIFY.parse(request.query_params.dict())
    # Whole-store evidence (and stream ids across projects): an auditor of everything only.
    require_auditor(request.user)
    stream = query.get("stream")
    everything = query.get("all")
    if stream is not None and everything:
        raise invalid("all", "give either stream or all=true, not both")
    if stream is None and everything is False:
        raise invalid("all", "all=false needs a stream to check instead")
    if stream is not None and len(stream) > MAX_STREAM_ID_LENGTH:
        raise invalid("stream", f"stream ids are at most {MAX_STREAM_ID_LENGTH} characters")
    async with request.app.state.pool.acquire() as conn:
        if stream is None:
            return await verify_all(conn)
        report = await verify_stream(conn, stream)
    if report is None:
        raise problem(404, "not_found", "unknown stream", f"no events in stream {stream!r}")
    return report


ROUTES = [verify_chains]
