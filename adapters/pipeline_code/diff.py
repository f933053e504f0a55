"""What applying a pipeline file would change: the current definition beside the file's, as a
unified diff of their YAML with every default written out (so only real changes show)."""

from __future__ import annotations

import difflib
from typing import Any

import yaml

from adapters.pipeline_code.document import canonical
from domain.pipeline_definition import PipelineDefinition


def as_yaml(definition: PipelineDefinition | dict[str, Any]) -> str:
    return yaml.safe_dump(canonical(definition), sort_keys=False, allow_unicode=True, width=100)


def definition_diff(
    current: PipelineDefinition | dict[str, Any] | None,
    new: PipelineDefinition,
    *,
    current_name: str,
    new_name: str,
) -> str:
    """The unified diff from `current` (None: nothing yet) to `new`; empty when they agree."""
    before = as_yaml(current).splitlines(keepends=True) if current is not None else []
    after = as_yaml(new).splitlines(keepends=True)
    return "".join(difflib.unified_diff(before, after, current_name, new_name))
