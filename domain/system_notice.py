"""The SystemNotice aggregate: an operator's broadcast to everyone watching the whole system."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal, get_args
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.errors import InvalidValue
from domain.limits import DESCRIPTION_MAX, NAME_MAX, clean
from domain.moments import require_aware

Level = Literal["info", "warning", "critical"]
LEVELS: tuple[str, ...] = get_args(Level)


class SystemNotice(Aggregate):
    """One notice, sent once; its stream holds who sent it and when (the event's metadata)."""

    stream_type = "system_notice"

    class Event(Aggregate.Event):
        pass

    class Sent(Event, Aggregate.Created):
        event_type: ClassVar[str] = "SystemNoticeSent"
        level: Level
        title: str
        message: str

    def __init__(self, level: Level, title: str, message: str) -> None:
        self.level, self.title, self.message = level, title, message

    @classmethod
    def send(cls, *, id: UUID, level: str, title: str, message: str, at: datetime) -> SystemNotice:
        require_aware(at)
        if level not in LEVELS:
            raise InvalidValue("level", f"one of {list(LEVELS)}")
        title, message = title.strip(), message.strip()
        if not 1 <= len(clean("title", title)) <= NAME_MAX:
            raise InvalidValue("title", f"1 to {NAME_MAX} characters")
        if len(clean("message", message)) > DESCRIPTION_MAX:
            raise InvalidValue("message", f"at most {DESCRIPTION_MAX} characters")
        return cls._create(cls.Sent, id=id, timestamp=at, level=level, title=title, message=message)
