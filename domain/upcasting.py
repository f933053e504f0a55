"""Envelopes as readers see them: data brought up to the event's current schema version.

Stored rows are never rewritten (their bytes are hashed), so every path that hands envelopes
out (relay, gateway, export, history) passes them through `current` on the way.
"""

from __future__ import annotations

import msgspec

from domain.envelope import EventEnvelope
from domain.registry import Registry, UnknownEventType, default_registry


def current(envelope: EventEnvelope, registry: Registry | None = None) -> EventEnvelope:
    """`envelope` at its type's current schema, with `stored_schema_version` naming the old one.

    An event already current, or of a type the registry does not know (a foreign stream), is
    returned as it is.
    """
    registry = registry or default_registry()
    try:
        latest = registry.event_type(envelope.type).schema_version
    except UnknownEventType:
        return envelope
    if envelope.schema_version >= latest:
        return envelope
    return msgspec.structs.replace(
        envelope,
        data=registry.upcast(envelope.type, envelope.schema_version, envelope.data),
        schema_version=latest,
        stored_schema_version=envelope.schema_version,
    )
