"""The JSON Schema of the pipeline file, at a stable URL editors can point at (no key needed:
it tells nothing about any project)."""

from __future__ import annotations

from functools import cache

import msgspec
from litestar import Response, get

from adapters.pipeline_code.document import SCHEMA_PATH, json_schema


@cache
def _schema_bytes() -> bytes:
    return msgspec.json.encode(json_schema())


@get(
    SCHEMA_PATH,
    operation_id="getPipelineSchema",
    tags=["pipelines"],
    media_type="application/schema+json",
    description="The pipeline file format (YAML or JSON) as JSON Schema 2020-12, generated "
    "from the definition types themselves. Point an editor at it, e.g. with the YAML "
    "language server: `# yaml-language-server: $schema=<api>/api/v1/schemas/pipeline.json`.",
)
async def pipeline_schema() -> Response[bytes]:
    return Response(
        _schema_bytes(),
        media_type="application/schema+json",
        headers={"Cache-Control": "public, max-age=300"},
    )


ROUTES = [pipeline_schema]
