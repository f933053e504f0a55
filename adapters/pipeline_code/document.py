"""The pipeline file: a definition, and optionally which pipeline it is (`id`) or which project
it belongs to (`project_id`). Its JSON Schema is generated from these very types."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import msgspec

from domain.pipeline_definition import PipelineDefinition

SCHEMA_PATH = "/api/v1/schemas/pipeline.json"


class PipelineFile(PipelineDefinition, kw_only=True):
    """A pipeline as code: its definition, plus what tells `pipelines apply` where it goes."""

    id: UUID | None = None
    """The pipeline it defines; without it, `apply` finds the project's pipeline by `name`."""
    project_id: UUID | None = None
    """The project it belongs to (or give `--project` to `apply`)."""


_DEFINITION_FIELDS = PipelineDefinition.__struct_fields__


def definition_of(document: PipelineFile) -> PipelineDefinition:
    return PipelineDefinition(**{f: getattr(document, f) for f in _DEFINITION_FIELDS})


def canonical(definition: PipelineDefinition | dict[str, Any]) -> dict[str, Any]:
    """A definition as plain data with every default filled in: what two versions compare by."""
    if isinstance(definition, dict):
        definition = msgspec.convert(definition, PipelineDefinition)
    return msgspec.to_builtins(definition)


def json_schema(base_url: str = "") -> dict[str, Any]:
    """The file format as JSON Schema (2020-12), for editors (yaml-language-server and others)."""
    schema = msgspec.json.schema(PipelineFile)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{base_url}{SCHEMA_PATH}",
        "title": "flowledger pipeline",
        **schema,
    }
