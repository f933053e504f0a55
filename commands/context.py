"""Who is asking, when, under which correlation: all a handler gets besides the command."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Protocol
from uuid import UUID

import msgspec
import uuid_utils.compat

from domain.envelope import EventMetadata
from domain.errors import AggregateNotFound
from domain.limits import MetadataText

SCOPES = frozenset({"read", "write", "admin", "runner", "audit", "approve"})

# Fixed, so an id derived from an idempotency key is the same on every replay.
_IDEMPOTENT_IDS = UUID("6f1c6a52-2f0e-4a3c-9d55-0c1f2b9a7e10")


class Forbidden(Exception):
    """A valid caller asked for something outside its project or scopes."""

    code = "forbidden"


class Named(Protocol):
    """An aggregate as `require_on` names it: what an unknown id of its kind is told."""

    stream_type: str

    @property
    def id(self) -> UUID: ...


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """An authenticated caller: an API key or a JWT subject."""

    id: str
    name: str
    project_id: UUID | None
    """None: every project."""
    scopes: frozenset[str]
    person: bool = False
    """Its name is a person's (a webhook's committer), so events keep it sealed, forgettable."""

    def allows(self, scope: str, project_id: UUID | None) -> bool:
        if self.project_id is not None and project_id != self.project_id:
            return False
        return "admin" in self.scopes or scope in self.scopes

    def require(self, scope: str, project_id: UUID | None, *alternatives: str) -> None:
        """Raise Forbidden unless the caller holds `scope` (or one of `alternatives`) there."""
        if not any(self.allows(s, project_id) for s in (scope, *alternatives)):
            where = "every project" if project_id is None else f"project {project_id}"
            wanted = " or ".join(repr(s) for s in (scope, *alternatives))
            raise Forbidden(f"{self.name} lacks the {wanted} scope on {where}")

    def require_on(
        self,
        scope: str,
        found: Named,
        owner: UUID | None,
        *alternatives: str,
        shared: bool = False,
    ) -> None:
        """`require`, on an aggregate the caller named by its id and that belongs to `owner`.

        Another project's is AggregateNotFound, the very answer to an id that does not
        exist: a key of one project learns nothing of another's, not even that it exists.
        `shared`: one of no project (a shared runner) is visible to every project anyway,
        so a missing scope on it may be told as such.
        """
        hidden = owner != self.project_id and not (shared and owner is None)
        if self.project_id is not None and hidden:
            raise AggregateNotFound(found.stream_type, found.id)
        self.require(scope, owner, *alternatives)


class CommandContext(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    at: datetime
    """The moment the command was received; every decision uses it, never a clock."""
    correlation_id: MetadataText
    causation_id: MetadataText | None = None
    traceparent: MetadataText | None = None
    idempotency_key: MetadataText | None = None
    """As the client sent it; scoped to the principal before use."""

    def metadata(self) -> EventMetadata:
        return EventMetadata(
            correlation_id=self.correlation_id,
            causation_id=self.causation_id,
            actor=self.principal.name,
            personal_actor=self.principal.person,
            traceparent=self.traceparent,
            idempotency_key=self.scoped_key(),
        )

    def scoped_key(self) -> str | None:
        if self.idempotency_key is None:
            return None
        return f"{self.principal.id}:{self.idempotency_key}"

    def new_id(self, purpose: str) -> UUID:
        """A fresh id; with an idempotency key, the same id on every replay of the request."""
        key = self.scoped_key()
        if key is None:
            return uuid.uuid4()
        # uuid-utils' uuid5 is the standard one (a uuid.UUID, the same value) at half its CPU:
        # every run a webhook starts is keyed.
        return uuid_utils.compat.uuid5(_IDEMPOTENT_IDS, f"{purpose}:{key}")
