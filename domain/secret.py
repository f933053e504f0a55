"""The Secret aggregate: one project secret (a name, optionally bound to an environment or to
one pipeline of the project; never both).

Its events say that a value was set (a new version) or deleted, by whom, with a keyed
fingerprint of the value: never the value, which lives encrypted outside the events table
and is destroyed on deletion. Versions go on rising across a deletion and a new value, so
"which runs used version 3" has one answer forever.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.errors import IllegalTransition, InvalidValue
from domain.limits import ACTOR_MAX, ENVIRONMENT_MAX
from domain.moments import require_aware

SECRET_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")
ENVIRONMENT_NAME = re.compile(rf"[A-Za-z0-9_.-]{{1,{ENVIRONMENT_MAX}}}")
FINGERPRINT = re.compile(r"hmac-sha256:[0-9a-f]{32}")
"""A keyed MAC of the value under the instance's key: equal values of one secret match, and
without the key it tells nothing, not even for a short value."""
_NAMESPACE = UUID("b7f3d0a2-5c1e-4e8b-9a6f-2d4c8e1f0a37")
"""Fixed forever: changing it would give every secret a new stream."""


def secret_stream_id(
    project_id: UUID, name: str, environment: str | None, pipeline_id: UUID | None = None
) -> UUID:
    """One stream per (project, name, scope): a name is a secret's identity. The pipeline is
    appended only when there is one, so project-wide and environment ids never change."""
    scope = f"{project_id}\0{environment or ''}\0{name}"
    return uuid5(_NAMESPACE, scope if pipeline_id is None else f"{scope}\0pipeline:{pipeline_id}")


def valid_scope(environment: str | None, pipeline_id: UUID | None) -> None:
    if environment is not None and pipeline_id is not None:
        raise InvalidValue(
            "pipeline_id",
            "a secret is bound to an environment or to a pipeline, not both: a step in that "
            "environment prefers the environment's value, then its pipeline's, then the project's",
        )


def valid_secret_name(field: str, name: str) -> str:
    if not SECRET_NAME.fullmatch(name):
        raise InvalidValue(
            field, "a secret's name is an environment variable's: [A-Za-z_][A-Za-z0-9_]{0,99}"
        )
    return name


def valid_environment(field: str, environment: str | None) -> str | None:
    if environment is not None and not ENVIRONMENT_NAME.fullmatch(environment):
        raise InvalidValue(field, f"1 to {ENVIRONMENT_MAX} letters, digits, '_', '.' or '-'")
    return environment


class Secret(Aggregate):
    """Set (version 1, 2, ...), set again with a new value, deleted, set again after that."""

    stream_type = "secret"

    class Event(Aggregate.Event):
        pass

    class Created(Event, Aggregate.Created):
        """Schema v2 added `pipeline_id`; v1 secrets were never bound to a pipeline."""

        event_type: ClassVar[str] = "SecretCreated"
        schema_version: ClassVar[int] = 2
        project_id: UUID
        name: str
        environment: str | None
        secret_version: int
        fingerprint: str
        by: str
        pipeline_id: UUID | None

        @staticmethod
        def upcast_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
            return {**data, "pipeline_id": None}

    class ValueSet(Event):
        event_type: ClassVar[str] = "SecretSet"
        secret_version: int
        fingerprint: str
        by: str

        def apply(self, aggregate: Secret) -> None:
            aggregate.secret_version = self.secret_version
            aggregate.fingerprint = self.fingerprint
            aggregate.deleted = False

    class Deleted(Event):
        event_type: ClassVar[str] = "SecretDeleted"
        secret_version: int
        """The last version set: every version up to it is destroyed."""
        by: str

        def apply(self, aggregate: Secret) -> None:
            aggregate.deleted = True
            aggregate.fingerprint = None

    def __init__(
        self,
        project_id: UUID,
        name: str,
        environment: str | None,
        secret_version: int,
        fingerprint: str,
        by: str,
        pipeline_id: UUID | None,
    ) -> None:
        # Runs for `Created`, on creation and on every replay: assignments only.
        self.project_id = project_id
        self.name = name
        self.environment = environment
        self.pipeline_id = pipeline_id
        self.secret_version = secret_version
        self.fingerprint: str | None = fingerprint
        self.deleted = False

    @classmethod
    def create(
        cls,
        *,
        project_id: UUID,
        name: str,
        environment: str | None,
        fingerprint: str,
        by: str,
        at: datetime,
        pipeline_id: UUID | None = None,
    ) -> Secret:
        require_aware(at)
        valid_secret_name("name", name)
        valid_environment("environment", environment)
        valid_scope(environment, pipeline_id)
        return cls._create(
            cls.Created,
            id=secret_stream_id(project_id, name, environment, pipeline_id),
            timestamp=at,
            project_id=project_id,
            name=name,
            environment=environment,
            secret_version=1,
            fingerprint=_valid_fingerprint(fingerprint),
            by=_valid_by(by),
            pipeline_id=pipeline_id,
        )

    def set(self, *, fingerprint: str, by: str, at: datetime) -> bool:
        """A new version, unless the secret already holds this very value (PUT is idempotent)."""
        require_aware(at)
        fingerprint = _valid_fingerprint(fingerprint)
        if not self.deleted and fingerprint == self.fingerprint:
            return False
        self.trigger_event(
            self.ValueSet,
            secret_version=self.secret_version + 1,
            fingerprint=fingerprint,
            by=_valid_by(by),
            timestamp=at,
        )
        return True

    def delete(self, *, by: str, at: datetime) -> None:
        require_aware(at)
        if self.deleted:
            raise IllegalTransition("secret", "deleted", "delete")
        self.trigger_event(
            self.Deleted, secret_version=self.secret_version, by=_valid_by(by), timestamp=at
        )


def _valid_fingerprint(fingerprint: str) -> str:
    if not FINGERPRINT.fullmatch(fingerprint):
        raise InvalidValue("fingerprint", "expected hmac-sha256:<32 hex digits>")
    return fingerprint


def _valid_by(by: str) -> str:
    if not 1 <= len(by) <= ACTOR_MAX:
        raise InvalidValue("by", f"1 to {ACTOR_MAX} characters")
    return by
