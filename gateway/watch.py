"""What a connection watches: its NATS subject, its project, and which stored events match."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol
from uuid import UUID

import asyncpg

from adapters.relay.subjects import Owner, learn, token
from gateway import codes, events

Kind = Literal["run", "pipeline", "project", "system"]


class Reader(Protocol):
    """The caller, as the gateway needs it (the API's Principal fits)."""

    project_id: UUID | None

    def allows(self, scope: str, project_id: UUID | None) -> bool: ...


class Refused(Exception):
    """The connection may not watch this: `code` is the WebSocket close code."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class Watch:
    kind: Kind
    target: str | None
    """The run, pipeline or project id; for `system`, the one project (None: all)."""

    def subject(self, prefix: str) -> str:
        t = token(self.target)
        match self.kind:
            case "run":
                return f"{prefix}.*.*.run.{t}.*"
            case "pipeline":
                return f"{prefix}.*.{t}.>"
            case "project":
                return f"{prefix}.{t}.>"
        return f"{prefix}.>" if self.target is None else f"{prefix}.{t}.>"

    def matches(self, stream_id: str, owner: Owner) -> bool:
        """Whether a stored event belongs here (the same rule as the subject filter)."""
        match self.kind:
            case "run":
                return stream_id == self.target
            case "pipeline":
                return owner.pipeline_id == self.target
        return self.target is None or owner.project_id == self.target


def _uuid(value: str | None) -> UUID | None:
    try:
        return None if value is None else UUID(value)
    except ValueError:
        return None


async def resolve(conn: asyncpg.Connection, reader: Reader, kind: Kind, target: str) -> Watch:
    """The watch for a path, once the reader is known to be allowed it, else Refused."""
    if kind == "system":
        if not reader.allows("read", reader.project_id):
            raise Refused(codes.FORBIDDEN, "the read scope is required")
        project = None if reader.project_id is None else str(reader.project_id)
        return Watch("system", project)
    if kind == "project":
        project_id = _uuid(target)
    else:
        first = await events.first_events(conn, [target])
        if not first or first[0].stream_type != kind:
            raise Refused(codes.NOT_FOUND, f"no {kind} {target}")
        project_id = _uuid((learn(first[0]) or Owner()).project_id)
    if project_id is None:
        raise Refused(codes.NOT_FOUND, f"no {kind} {target}")
    if not reader.allows("read", project_id):
        raise Refused(codes.FORBIDDEN, f"no read scope on project {project_id}")
    return Watch(kind, str(project_id) if kind == "project" else target)
