"""The ApiKey aggregate: a credential with scopes, for one project or all, stored only as a hash."""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import datetime
from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.errors import InvalidValue
from domain.limits import ACTOR_MAX, NAME_MAX
from domain.moments import require_aware

REASON_MAX = 1000
PREFIX_MAX = 64
SECRET_HASH_MAX = 200


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"
    RUNNER = "runner"
    AUDIT = "audit"
    APPROVE = "approve"
    """Decide approval steps and environment approvals (with read, to find them)."""


SCOPES = frozenset(s.value for s in Scope)
_VISIBLE_ASCII = re.compile(r"[!-~]+")


class ApiKeyStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


class ApiKey(Aggregate):
    """Issued with scopes for one project or for all (`project_id=None`); revoked for good.

    The domain never sees the secret, only its hash and a non-secret display prefix.
    Expiry is not an event: past `expires_at` the key is simply allowed nothing.
    Revoking a revoked key decides nothing, so a repeated revoke is harmless and the first
    revocation (its reason, author and time) is the one on record.
    """

    stream_type = "api_key"

    class Event(Aggregate.Event):
        pass

    class Issued(Event, Aggregate.Created):
        event_type: ClassVar[str] = "ApiKeyIssued"
        name: str
        project_id: UUID | None
        scopes: tuple[str, ...]
        secret_hash: str
        prefix: str
        expires_at: datetime | None
        issued_by: str

    class Revoked(Event):
        event_type: ClassVar[str] = "ApiKeyRevoked"
        reason: str
        revoked_by: str

        def apply(self, aggregate: ApiKey) -> None:
            aggregate.status = ApiKeyStatus.REVOKED
            aggregate.revoked_reason = self.reason
            aggregate.revoked_by = self.revoked_by
            aggregate.revoked_at = self.timestamp

    def __init__(
        self,
        name: str,
        project_id: UUID | None,
        scopes: tuple[str, ...],
        secret_hash: str,
        prefix: str,
        expires_at: datetime | None,
        issued_by: str,
    ) -> None:
        # Runs for `Issued`, on creation and on every replay: assignments only.
        self.name = name
        self.project_id = project_id
        self.scopes = scopes
        self.secret_hash = secret_hash
        self.prefix = prefix
        self.expires_at = expires_at
        self.issued_by = issued_by
        self.status = ApiKeyStatus.ACTIVE
        self.revoked_reason = ""
        self.revoked_by = ""
        self.revoked_at: datetime | None = None

    @classmethod
    def create(
        cls,
        *,
        id: UUID,
        name: str,
        project_id: UUID | None,
        scopes: Collection[str],
        secret_hash: str,
        prefix: str,
        expires_at: datetime | None = None,
        issued_by: str,
        at: datetime,
    ) -> ApiKey:
        """Issue a key; `project_id=None` lets it act on every project."""
        require_aware(at, "at")
        if expires_at is not None:
            require_aware(expires_at, "expires_at")
            if expires_at <= at:
                raise InvalidValue("expires_at", "must be after the time of issue")
        return cls._create(
            cls.Issued,
            id=id,
            timestamp=at,
            name=_text("name", name, NAME_MAX),
            project_id=project_id,
            scopes=_valid_scopes(scopes),
            secret_hash=_token("secret_hash", secret_hash, SECRET_HASH_MAX),
            prefix=_token("prefix", prefix, PREFIX_MAX),
            expires_at=expires_at,
            issued_by=_text("issued_by", issued_by, ACTOR_MAX),
        )

    def revoke(self, *, reason: str = "", revoked_by: str, at: datetime) -> None:
        """Revoke the key at once; revoking a revoked key decides nothing."""
        require_aware(at, "at")
        reason = reason.strip()
        if len(reason) > REASON_MAX:
            raise InvalidValue("reason", f"at most {REASON_MAX} characters")
        revoked_by = _text("revoked_by", revoked_by, ACTOR_MAX)
        if self.status is ApiKeyStatus.ACTIVE:
            self.trigger_event(self.Revoked, reason=reason, revoked_by=revoked_by, timestamp=at)

    def is_usable(self, now: datetime) -> bool:
        """Whether the key authenticates at all at `now`: not revoked and not expired."""
        require_aware(now, "now")
        if self.status is not ApiKeyStatus.ACTIVE:
            return False
        return self.expires_at is None or now < self.expires_at

    def allows(self, scope: str, project_id: UUID | None, now: datetime) -> bool:
        """Whether the key may act with `scope` on `project_id` (None: across projects) at `now`.

        `admin` implies every scope; no other scope implies another. A key bound to a
        project is allowed nothing across projects.
        """
        if scope not in SCOPES:
            # A typo in a route's required scope must fail loudly, not deny everyone quietly.
            raise InvalidValue("scope", f"unknown scope {scope!r}")
        if not self.is_usable(now):
            return False
        if self.project_id is not None and project_id != self.project_id:
            return False
        return Scope.ADMIN in self.scopes or scope in self.scopes


def _valid_scopes(scopes: Collection[str]) -> tuple[str, ...]:
    if isinstance(scopes, str):
        raise InvalidValue("scopes", "a collection of scopes, not a single string")
    unknown = sorted(set(scopes) - SCOPES)
    if unknown:
        raise InvalidValue("scopes", f"unknown {unknown}; known: {[s.value for s in Scope]}")
    if not scopes:
        raise InvalidValue("scopes", "at least one scope")
    # One canonical order, so equal grants read the same in every event.
    return tuple(s.value for s in Scope if s in scopes)


def _text(field: str, value: str, limit: int) -> str:
    value = value.strip()
    if not value:
        raise InvalidValue(field, "must not be blank")
    if len(value) > limit:
        raise InvalidValue(field, f"at most {limit} characters")
    return value


def _token(field: str, value: str, limit: int) -> str:
    if len(value) > limit or not _VISIBLE_ASCII.fullmatch(value):
        raise InvalidValue(field, f"1 to {limit} visible ASCII characters, no spaces")
    return value
