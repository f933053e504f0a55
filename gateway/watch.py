"""What a connection watches, and the routes by which an event reaches the watchers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol
from uuid import UUID

import asyncpg

from adapters.streaming.relay.subjects import Owner, learn, token
from gateway import codes, events

Kind = Literal["run", "pipeline", "project", "system"]
Route = tuple[str, str]
"""`(level, subject token)`: ("run", run), ("pipeline", id), ("project", id) or ("all", "")."""
EVERYTHING: Route = ("all", "")


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

    @property
    def level(self) -> str:
        """The route's level: a system watch of one project is that project's watch."""
        if self.kind == "system":
            return EVERYTHING[0] if self.target is None else "project"
        return self.kind

    @property
    def route(self) -> Route:
        return EVERYTHING if self.target is None else (self.level, token(self.target))


def routes(project: str, pipeline: str, stream_type: str, stream: str) -> tuple[Route, ...]:
    """Every route an event reaches, from its subject tokens (the relay's subject levels)."""
    found = (EVERYTHING, ("project", project), ("pipeline", pipeline))
    return (*found, ("run", stream)) if stream_type == "run" else found


def owner_routes(stream_type: str, stream_id: str, owner: Owner) -> tuple[Route, ...]:
    """The routes of a stored event, given its stream's owner: what its subject would say."""
    return routes(token(owner.project_id), token(owner.pipeline_id), stream_type, token(stream_id))


def subject_routes(prefix: str, subject: str) -> tuple[Route, ...] | None:
    """The routes of a relayed message, or None if its subject is not the relay's shape."""
    levels = subject[len(prefix) + 1 :].split(".") if subject.startswith(prefix + ".") else []
    if len(levels) != 5:
        return None
    project, pipeline, stream_type, stream, _type = levels
    return routes(project, pipeline, stream_type, stream)


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
    # Every id is a UUID: anything else names nothing, and is not worth a query.
    target_id = _uuid(target)
    unknown = Refused(codes.NOT_FOUND, f"no {kind} {target_id or ''}".rstrip())
    if target_id is None:
        raise unknown
    if kind == "project":
        project_id: UUID | None = target_id
    else:
        first = await events.first_events(conn, [str(target_id)])
        if not first or first[0].stream_type != kind:
            raise unknown
        project_id = _uuid((learn(first[0]) or Owner()).project_id)
    # Another project's run, pipeline or project is told as unknown, as over HTTP (404):
    # the close names neither that project nor whether the thing exists.
    if project_id is None or reader.project_id not in (None, project_id):
        raise unknown
    if not reader.allows("read", project_id):
        raise Refused(codes.FORBIDDEN, "the read scope is required")
    return Watch(kind, str(project_id) if kind == "project" else str(target_id))
