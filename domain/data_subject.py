"""The DataSubject aggregate: a person whose personal data was erased, by whom and why.

Only the erasure is recorded: the subject id is a keyed hash that names nobody, and the event
holds no personal data. Forgetting the subject's key is the store's part (crypto-shredding).
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.errors import InvalidValue
from domain.limits import ACTOR_MAX, REASON_MAX
from domain.moments import require_aware

SUBJECT_ID_MAX = 64
_NAMESPACE = UUID("3f0f6c52-9a4e-4f7e-8a55-1d9c0e6b2a71")
"""Fixed forever: changing it would give every past erasure a new stream id."""


def subject_stream_id(subject_id: str) -> UUID:
    """The stream of a subject: one per subject, so it is erased (on record) once."""
    return uuid5(_NAMESPACE, subject_id)


class DataSubject(Aggregate):
    """Erased once; a second erasure finds the stream and decides nothing new."""

    stream_type = "data_subject"

    class Event(Aggregate.Event):
        pass

    class Erased(Event, Aggregate.Created):
        event_type: ClassVar[str] = "DataSubjectErased"
        subject_id: str
        erased_by: str
        reason: str

    def __init__(self, subject_id: str, erased_by: str, reason: str) -> None:
        # Runs for `Erased`, on creation and on every replay: assignments only.
        self.subject_id = subject_id
        self.erased_by = erased_by
        self.reason = reason

    @classmethod
    def erase(cls, *, subject_id: str, erased_by: str, reason: str, at: datetime) -> DataSubject:
        """Record that `erased_by` erased the subject, and why (a reason is required)."""
        require_aware(at)
        if not 1 <= len(subject_id) <= SUBJECT_ID_MAX:
            raise InvalidValue("subject_id", f"1 to {SUBJECT_ID_MAX} characters")
        reason = reason.strip()
        if not 1 <= len(reason) <= REASON_MAX:
            raise InvalidValue("reason", f"1 to {REASON_MAX} characters: say why")
        if not 1 <= len(erased_by) <= ACTOR_MAX:
            raise InvalidValue("erased_by", f"1 to {ACTOR_MAX} characters")
        return cls._create(
            cls.Erased,
            id=subject_stream_id(subject_id),
            timestamp=at,
            subject_id=subject_id,
            erased_by=erased_by,
            reason=reason,
        )
