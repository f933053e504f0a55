"""What a runner stored for a run: an artifact or workspace, a cache restore or save."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

import msgspec
from litestar import Controller, Response, post
from litestar.params import FromPath, JSONBody

from adapters.http.answers import answers
from adapters.http.commanding import execute
from adapters.http.security import Req
from commands.artifacts import RecordArtifact, RecordCache
from domain.limits import (
    ByteCount,
    Key,
    MaybeObjectKey,
    MaybeSha256Hex,
    ObjectKey,
    Positive32,
    RetentionDays,
    Sha256Hex,
)


class ArtifactRecord(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An artifact (or a workspace) a step's runner put in the object store; no content."""

    step: Key
    attempt: Positive32
    kind: Literal["artifact", "workspace"] = "artifact"
    format: Literal["file", "tar"]
    path: MaybeObjectKey = ""
    size: ByteCount
    sha256: Sha256Hex
    object_key: ObjectKey
    retention_days: RetentionDays


class CacheRecord(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A cache key looked up before a step (`restored`, hit or not) or saved after it."""

    step: Key
    attempt: Positive32
    outcome: Literal["restored", "saved"]
    key: ObjectKey
    branch: MaybeObjectKey = ""
    hit: bool = False
    exact: bool = False
    object_key: MaybeObjectKey = ""
    size: ByteCount = 0
    sha256: MaybeSha256Hex = ""
    matched_key: MaybeObjectKey = ""
    """A hit's entry key: `key` itself, or one that starts with `restore_key`."""
    restore_key: MaybeObjectKey = ""
    """The `restore_keys` prefix that found the entry; "" when `key` itself matched."""


class ArtifactsController(Controller):
    path = "/api/v1/pipeline-runs/{run_id:uuid}"
    tags = ["artifacts"]

    @post("/artifacts", operation_id="recordArtifact", responses=answers(202))
    async def record(
        self, request: Req, run_id: FromPath[UUID], data: JSONBody[ArtifactRecord]
    ) -> Response[bytes]:
        command = RecordArtifact(run_id=run_id, **msgspec.structs.asdict(data))
        return await execute(request, command)

    @post("/caches", operation_id="recordCache", responses=answers(202))
    async def cache(
        self, request: Req, run_id: FromPath[UUID], data: JSONBody[CacheRecord]
    ) -> Response[bytes]:
        return await execute(request, RecordCache(run_id=run_id, **msgspec.structs.asdict(data)))
