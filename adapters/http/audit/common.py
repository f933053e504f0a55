"""What the audit routes share: who may read, the history cursor, and NDJSON streaming."""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator

import msgspec
from litestar.response import Stream

from adapters.audit.envelopes import AuditEvent
from adapters.audit.errors import UnknownStream
from adapters.audit.reads import StreamInfo
from adapters.http.reads.params import choice, invalid
from commands.context import Principal

TAGS = ["audit"]
NDJSON = "application/x-ndjson"
FORMAT = choice(
    "format",
    ("json", "ndjson"),
    "json (default): one page; ndjson: every event from the cursor on, one envelope a line",
)
_lines = msgspec.json.Encoder()


def require_reader(principal: Principal) -> None:
    """`read` (or `audit`) on the caller's own reach: the run endpoints' rule, plus auditors."""
    principal.require("read", principal.project_id, "audit")


def require_auditor(principal: Principal) -> None:
    """`audit` over every project: the feed and traces cross projects."""
    principal.require("audit", None)


def reachable(
    principal: Principal, info: StreamInfo | None, stream_type: str, what: str, stream_id: object
) -> StreamInfo:
    """The stream if it is a `stream_type` the caller may read; 404 otherwise, as the views do
    for another project's item, so its existence is not told."""
    if info is None or info.stream_type != stream_type:
        raise UnknownStream(what, stream_id)
    if principal.project_id is not None and info.project_id != str(principal.project_id):
        raise UnknownStream(what, stream_id)
    return info


def encode_cursor(version: int) -> str:
    raw = msgspec.json.encode(("history", version))
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str | None) -> int:
    """The version a history cursor resumes after (0: from the start)."""
    if cursor is None:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        kind, version = msgspec.json.decode(raw, type=tuple[str, int])
    except (binascii.Error, ValueError, msgspec.ValidationError, msgspec.DecodeError):
        raise invalid("cursor", "cursor: not a cursor this history gave") from None
    if kind != "history" or version < 0:
        raise invalid("cursor", "cursor: not a cursor this history gave")
    return version


def ndjson(batches: AsyncIterator[list[AuditEvent]], filename: str) -> Stream:
    """One envelope a line, written a batch at a time as the store yields them."""

    async def lines() -> AsyncIterator[bytes]:
        async for batch in batches:
            yield _lines.encode_lines(batch)

    return Stream(
        lines(),
        media_type=NDJSON,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
