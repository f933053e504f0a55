"""What the domain counts as personal data: the fields that must be forgettable.

The domain only marks them; sealing them per data subject (and forgetting a subject) is the
event store's concern. No decision may depend on a personal value: after an erasure it reads
as `ERASED`, and every aggregate must still replay.
"""

from __future__ import annotations

ERASED = "[erased]"
"""What every reader shows in place of a personal value whose subject was erased."""

PERSONAL_FIELDS: dict[str, frozenset[str]] = {
    # The raw body of a delivery names and e-mails committers and senders, and links avatars.
    "WebhookReceived": frozenset({"payload"}),
}
"""Event type -> the fields of its data that hold personal data."""

ACTOR_FIELDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "RunRequested": (("trigger", "actor"),),
}
"""Event type -> where its data repeats the actor's name (a path of keys); personal whenever
the event's metadata says its actor is a person (`EventMetadata.personal_actor`)."""
