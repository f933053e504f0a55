"""YAML read safely: plain data only, no aliases, bounded size and depth, errors with places.

PyYAML's SafeLoader builds only plain types (no Python objects). Aliases are refused
outright: an alias is how a few hundred bytes become gigabytes ("billion laughs"), and a
pipeline file has no need of one. Every value's line and column is kept by its path
(`steps[0].run`), so a rule broken later is shown where it was written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

YAML_MAX_BYTES = 256 * 1024
MEDIA_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"})
_PATH = re.compile(r"`\$((?:\.[^.\[`]+|\[\d+\])*)`")


class YamlRefused(Exception):
    """Not YAML this reader takes: why, and where (1-based line and column) when known."""

    def __init__(self, reason: str, line: int | None = None, column: int | None = None) -> None:
        self.reason, self.line, self.column = reason, line, column
        where = f" (line {line}, column {column})" if line is not None else ""
        super().__init__(f"{reason}{where}")


@dataclass(frozen=True)
class Loaded:
    data: Any
    places: dict[str, tuple[int, int]] = field(default_factory=dict)
    """(line, column), 1-based, of each value by its path: `name`, `steps[0].run`."""

    def place(self, path: str) -> tuple[int, int] | None:
        """Where the value at `path` (or its nearest enclosing one) was written."""
        while path:
            if path in self.places:
                return self.places[path]
            path = path[: max(path.rfind("."), path.rfind("["), 0)]
        return None


def is_yaml(content_type: str | None) -> bool:
    return (content_type or "").split(";", 1)[0].strip().lower() in MEDIA_TYPES


def path_in(message: str) -> str | None:
    """The field path in a msgspec error (`... - at `$.steps[0].run``), as `steps[0].run`."""
    found = _PATH.search(message)
    return found.group(1).removeprefix(".") if found else None


class _Loader(yaml.SafeLoader):
    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise YamlRefused(
                "aliases (*name) are not accepted: write the value out",
                mark.line + 1,
                mark.column + 1,
            )
        return super().compose_node(parent, index)


def load_yaml(text: bytes | str, *, max_bytes: int = YAML_MAX_BYTES) -> Loaded:
    """One YAML document as plain data with its places; YamlRefused otherwise."""
    raw = text.encode() if isinstance(text, str) else text
    if len(raw) > max_bytes:
        raise YamlRefused(f"at most {max_bytes} bytes of YAML")
    try:
        loader = _Loader(raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise YamlRefused(f"not UTF-8 text: {error}") from None
    try:
        node = loader.get_single_node()
        if node is None:
            raise YamlRefused("the document is empty")
        places: dict[str, tuple[int, int]] = {}
        _walk(node, "", places)
        return Loaded(loader.construct_document(node), places)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        reason = " ".join(p for p in (error.context, error.problem) if p) or "not YAML"
        if mark is None:
            raise YamlRefused(reason) from None
        raise YamlRefused(reason, mark.line + 1, mark.column + 1) from None
    except yaml.YAMLError as error:
        raise YamlRefused(str(error)) from None
    except RecursionError:
        raise YamlRefused("nested too deeply") from None
    finally:
        loader.dispose()


def _walk(node: yaml.Node, path: str, places: dict[str, tuple[int, int]]) -> None:
    # Iterative: depth is bounded by the recursion the composer already survived.
    stack = [(node, path)]
    while stack:
        current, at = stack.pop()
        places.setdefault(at, (current.start_mark.line + 1, current.start_mark.column + 1))
        if isinstance(current, yaml.MappingNode):
            for key, value in current.value:
                if isinstance(key, yaml.ScalarNode):
                    stack.append((value, f"{at}.{key.value}" if at else str(key.value)))
        elif isinstance(current, yaml.SequenceNode):
            stack.extend((item, f"{at}[{i}]") for i, item in enumerate(current.value))
