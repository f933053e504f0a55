"""Revealing a project secret's value on the server side (to a runner's attempt, nobody else).

The composition root installs the instance key once per process (`install`); a process that
never did reveals nothing. Several may be installed (tests run instances side by side, and an
instance key rotation leaves old and new for a while): each data key opens only under the key
that wrapped it, which AES-GCM's tag tells apart.
"""

from __future__ import annotations

from uuid import UUID

import asyncpg
import msgspec

from adapters.secrets import crypto
from commands.ports import RevealedSecret
from domain.secret import secret_stream_id

_installed: list[bytes] = []


class Revealed(msgspec.Struct, frozen=True, kw_only=True):
    value: str
    version: int
    environment: str | None = None
    """The environment the value is bound to; None: not bound to one."""
    pipeline_id: UUID | None = None
    """The pipeline the value is bound to; None: not bound to one."""

    def __repr__(self) -> str:
        return f"Revealed(version={self.version}, value=<redacted>)"


def install(instance_key: bytes) -> None:
    """Let this process reveal values sealed under `instance_key` (the composition root)."""
    if instance_key not in _installed:
        _installed.insert(0, instance_key)


async def reveal(
    pool: asyncpg.Pool | asyncpg.Connection,
    project_id: str,
    name: str,
    *,
    environment: str | None = None,
    pipeline_id: UUID | None = None,
) -> Revealed | None:
    """The newest value of the secret `name` of the project, or None if there is none (never
    set, deleted, or not readable by this process). The narrowest scope that holds a value
    wins: the one bound to `environment`, then the one bound to `pipeline_id`, then the
    project-wide one."""
    project = UUID(project_id)
    scopes: list[tuple[UUID, str | None, UUID | None]] = []
    if environment:
        scopes.append((secret_stream_id(project, name, environment), environment, None))
    if pipeline_id is not None:
        scopes.append((secret_stream_id(project, name, None, pipeline_id), None, pipeline_id))
    scopes.append((secret_stream_id(project, name, None), None, None))
    order = [secret_id for secret_id, _, _ in scopes]
    rows = await pool.fetch(
        "SELECT secret_id, version, wrapped_key, ciphertext FROM secret_values"
        " WHERE secret_id = ANY($1::uuid[]) AND committed"
        " ORDER BY array_position($1::uuid[], secret_id), version DESC",
        order,
    )
    bound = {secret_id: (env, pipeline) for secret_id, env, pipeline in scopes}
    for row in rows:
        for key in _installed:
            value = crypto.open_value(
                key, row["secret_id"], row["version"], row["wrapped_key"], row["ciphertext"]
            )
            if value is not None:
                env, pipeline = bound[row["secret_id"]]
                return Revealed(
                    value=value, version=row["version"], environment=env, pipeline_id=pipeline
                )
    return None


class VaultReader:
    """The command side's `SecretReader` on the process's pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def reveal(
        self,
        project_id: UUID,
        name: str,
        *,
        environment: str | None = None,
        pipeline_id: UUID | None = None,
    ) -> RevealedSecret | None:
        found = await reveal(
            self._pool, str(project_id), name, environment=environment, pipeline_id=pipeline_id
        )
        if found is None:
            return None
        return RevealedSecret(
            value=found.value,
            version=found.version,
            environment=found.environment,
            pipeline_id=found.pipeline_id,
        )
