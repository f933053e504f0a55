"""What an audit read can fail on besides bad input: each maps to a 404 with its own code."""

from __future__ import annotations


class AuditNotFound(LookupError):
    """Nothing to show: the HTTP layer answers 404 with `code`."""

    code = "not_found"


class UnknownStream(AuditNotFound):
    code = "not_found"

    def __init__(self, what: str, stream_id: object) -> None:
        super().__init__(f"no {what} with id {stream_id}")


class VersionBeyondHead(AuditNotFound):
    code = "version_beyond_head"

    def __init__(self, what: str, version: int, head: int) -> None:
        self.version = version
        self.head = head
        super().__init__(f"the {what} has {head} events; there is no version {version}")


class BeforeStreamBegan(AuditNotFound):
    code = "before_stream_began"

    def __init__(self, what: str, at: object, began: object) -> None:
        super().__init__(f"the {what} did not exist yet at {at}; its first event was at {began}")


class UnknownEvent(AuditNotFound):
    code = "not_found"

    def __init__(self, event_id: object) -> None:
        super().__init__(f"no event with id {event_id}")
