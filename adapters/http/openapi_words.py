"""The trigger rule as the OpenAPI shows it: the event words as an enum, each with its meaning
and the GitHub, GitLab and Jenkins events it stands for.

litestar's schema generation drops what msgspec's Annotated metadata says about the items of
a tuple, so this plugin writes the schema of `TriggerSpec` itself, from the domain's words.
"""

from __future__ import annotations

from typing import Any, get_args

from litestar.openapi.spec import OpenAPIType, Schema
from litestar.plugins import OpenAPISchemaPlugin

from domain.limits import GLOB_MAX, ITEMS_MAX
from domain.trigger_spec import EVENT_KINDS, TriggerSource, TriggerSpec

_EVENTS = (
    "Which deliveries start the pipeline (empty: any). From GitHub, GitLab and Jenkins "
    "sources, one of these words; a generic source's deliveries name their own kind (1-100 "
    "letters, digits, '_', '.', ':' or '-'). "
    + " ".join(f"`{word}`: {meaning}." for word, meaning in EVENT_KINDS.items())
    + " As in GitHub Actions, `push` with `tags` also runs for pushed tags matching them."
)
_GLOBS = (
    "Globs on the short {kind} name (`*` and `?` stay within a `/` segment, `**` crosses "
    "them); empty, with the other list empty too: any ref."
)


class TriggerWords(OpenAPISchemaPlugin):
    """Describe `TriggerSpec` in the OpenAPI, with the event words as an enum."""

    @staticmethod
    def is_plugin_supported_type(value: Any) -> bool:
        return value is TriggerSpec

    def to_openapi_schema(self, field_definition: Any, schema_creator: Any) -> Schema:
        def globs(kind: str) -> Schema:
            items = Schema(type=OpenAPIType.STRING, min_length=1, max_length=GLOB_MAX)
            return Schema(
                type=OpenAPIType.ARRAY,
                items=items,
                max_items=ITEMS_MAX,
                default=[],
                description=_GLOBS.format(kind=kind),
            )

        word = Schema(
            any_of=[
                Schema(type=OpenAPIType.STRING, enum=list(EVENT_KINDS)),
                Schema(type=OpenAPIType.STRING, pattern=r"^[A-Za-z0-9_.:-]{1,100}$"),
            ]
        )
        return Schema(
            type=OpenAPIType.OBJECT,
            title="TriggerSpec",
            description=TriggerSpec.__doc__,
            required=["source"],
            properties={
                "source": Schema(
                    type=OpenAPIType.STRING,
                    enum=list(get_args(TriggerSource)),
                    description="Where the deliveries come from.",
                ),
                "events": Schema(
                    type=OpenAPIType.ARRAY,
                    items=word,
                    max_items=ITEMS_MAX,
                    default=[],
                    description=_EVENTS,
                ),
                "branches": globs("branch"),
                "tags": globs("tag"),
            },
        )
