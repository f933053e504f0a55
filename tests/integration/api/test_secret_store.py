"""The project secret store on real PostgreSQL, through the real command bus: values kept
encrypted outside the events table, revealed by `adapters.secrets.vault.reveal`, destroyed on
deletion, events holding names, versions and fingerprints only."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime
from uuid import UUID

import asyncpg
import pytest

from adapters.platform.services import Services
from adapters.secrets import crypto, vault
from commands.context import CommandContext, Principal
from commands.projects import CreateProject
from commands.secrets import DeleteSecret, SetSecret
from domain.errors import AggregateNotFound
from domain.secret import secret_stream_id
from tests.helpers import unique_id

ADMIN = Principal(id="key:admin", name="alice", project_id=None, scopes=frozenset({"admin"}))
VALUE = "s3cr3t-deploy-value-\N{SNOWMAN}"


async def send(services: Services, command: object, principal: Principal = ADMIN) -> object:
    context = CommandContext(principal=principal, at=datetime.now(UTC), correlation_id="c-1")
    return await services.bus.dispatch(command, context)


async def new_project(services: Services) -> UUID:
    result = await send(services, CreateProject(name="Shop", slug=unique_id("s-")[:40]))
    return UUID(result.id)  # type: ignore[attr-defined]


async def stored_events(pool: asyncpg.Pool, stream: UUID) -> list[tuple[str, bytes]]:
    rows = await pool.fetch(
        "SELECT type, data::text AS data FROM events WHERE stream_id = $1 ORDER BY version",
        str(stream),
    )
    return [(r["type"], r["data"].encode()) for r in rows]


async def test_a_set_value_is_revealed_yet_kept_only_as_ciphertext(
    services: Services, pool: asyncpg.Pool
) -> None:
    project = await new_project(services)

    result = await send(services, SetSecret(project_id=project, name="DEPLOY_KEY", value=VALUE))

    revealed = await vault.reveal(pool, str(project), "DEPLOY_KEY")
    assert revealed is not None and (revealed.value, revealed.version) == (VALUE, 1)
    assert result.secret_version == 1  # type: ignore[attr-defined]
    assert VALUE not in repr(revealed)
    rows = await pool.fetch("SELECT * FROM secret_values WHERE project_id = $1", project)
    assert len(rows) == 1 and rows[0]["committed"]
    at_rest = b"".join(str(v).encode() if not isinstance(v, bytes) else v for v in rows[0].values())
    assert VALUE.encode() not in at_rest and b"s3cr3t" not in at_rest
    stream = secret_stream_id(project, "DEPLOY_KEY", None)
    [(kind, data)] = await stored_events(pool, stream)
    assert kind == "SecretCreated" and b"s3cr3t" not in data
    assert b"hmac-sha256:" in data and b'"secret_version":1' in data


async def test_a_new_value_is_a_new_version_and_the_old_value_is_destroyed(
    services: Services, pool: asyncpg.Pool
) -> None:
    project = await new_project(services)
    await send(services, SetSecret(project_id=project, name="TOKEN", value="first-value"))

    await send(services, SetSecret(project_id=project, name="TOKEN", value="second-value"))
    same = await send(services, SetSecret(project_id=project, name="TOKEN", value="second-value"))

    revealed = await vault.reveal(pool, str(project), "TOKEN")
    assert revealed is not None and (revealed.value, revealed.version) == ("second-value", 2)
    assert same.position is None  # type: ignore[attr-defined]
    versions = await pool.fetch(
        "SELECT version FROM secret_values WHERE secret_id = $1",
        secret_stream_id(project, "TOKEN", None),
    )
    assert [r["version"] for r in versions] == [2]


async def test_an_environment_secret_wins_over_the_project_wide_one(
    services: Services, pool: asyncpg.Pool
) -> None:
    project = await new_project(services)
    await send(services, SetSecret(project_id=project, name="DB", value="wide"))
    await send(services, SetSecret(project_id=project, name="DB", value="prod", environment="prod"))

    prod = await vault.reveal(pool, str(project), "DB", environment="prod")
    staging = await vault.reveal(pool, str(project), "DB", environment="staging")
    plain = await vault.reveal(pool, str(project), "DB")

    assert prod is not None and (prod.value, prod.environment) == ("prod", "prod")
    assert staging is not None and (staging.value, staging.environment) == ("wide", None)
    assert plain is not None and plain.value == "wide"


async def test_deleting_shreds_the_value_and_a_second_delete_is_not_found(
    services: Services, pool: asyncpg.Pool
) -> None:
    project = await new_project(services)
    await send(services, SetSecret(project_id=project, name="GONE", value="to-be-forgotten"))
    secret_id = secret_stream_id(project, "GONE", None)
    [row] = await pool.fetch("SELECT * FROM secret_values WHERE secret_id = $1", secret_id)

    await send(services, DeleteSecret(project_id=project, name="GONE"))

    assert await vault.reveal(pool, str(project), "GONE") is None
    assert (
        await pool.fetchval("SELECT count(*) FROM secret_values WHERE secret_id = $1", secret_id)
        == 0
    )
    # Even with the instance key, the ciphertext kept by someone beforehand has no key left.
    assert (
        crypto.open_value(b"\0" * 32, secret_id, 1, row["wrapped_key"], row["ciphertext"]) is None
    )
    with pytest.raises(AggregateNotFound):
        await send(services, DeleteSecret(project_id=project, name="GONE"))
    types = [kind for kind, _ in await stored_events(pool, secret_id)]
    assert types == ["SecretCreated", "SecretDeleted"]
    again = await send(services, SetSecret(project_id=project, name="GONE", value="back"))
    assert again.secret_version == 2  # type: ignore[attr-defined]


async def test_another_projects_key_cannot_set_or_delete_and_learns_nothing(
    services: Services, pool: asyncpg.Pool
) -> None:
    mine, theirs = await new_project(services), await new_project(services)
    await send(services, SetSecret(project_id=mine, name="MINE", value="value-of-mine"))
    outsider = Principal(
        id="key:o", name="outsider", project_id=theirs, scopes=frozenset({"write"})
    )

    with pytest.raises(AggregateNotFound):
        await send(services, SetSecret(project_id=mine, name="MINE", value="x"), outsider)
    with pytest.raises(AggregateNotFound):
        await send(services, DeleteSecret(project_id=mine, name="MINE"), outsider)

    assert await vault.reveal(pool, str(theirs), "MINE") is None
    revealed = await vault.reveal(pool, str(mine), "MINE")
    assert revealed is not None and revealed.value == "value-of-mine"


async def test_concurrent_sets_give_distinct_versions_and_the_last_event_wins(
    services: Services, pool: asyncpg.Pool
) -> None:
    project = await new_project(services)
    values = [f"value-{i}" for i in range(4)]

    results = await asyncio.gather(
        *(send(services, SetSecret(project_id=project, name="RACE", value=v)) for v in values)
    )

    versions = sorted(r.secret_version for r in results)  # type: ignore[attr-defined]
    assert versions == [1, 2, 3, 4]
    last = next(v for v, r in zip(values, results, strict=True) if r.secret_version == 4)  # type: ignore[attr-defined]
    revealed = await vault.reveal(pool, str(project), "RACE")
    assert revealed is not None and (revealed.value, revealed.version) == (last, 4)
    secret_id = secret_stream_id(project, "RACE", None)
    rows = await pool.fetch(
        "SELECT version, committed FROM secret_values WHERE secret_id = $1", secret_id
    )
    assert [(r["version"], r["committed"]) for r in rows] == [(4, True)]


async def test_a_value_under_another_instance_key_is_not_revealed(
    services: Services, pool: asyncpg.Pool
) -> None:
    project = await new_project(services)
    secret_id = secret_stream_id(project, "FOREIGN", None)
    other_key = base64.b64decode(base64.b64encode(b"k" * 32))
    wrapped, ciphertext = crypto.seal(other_key, secret_id, 1, "foreign")
    await pool.execute(
        "INSERT INTO secret_values (token, secret_id, project_id, version, wrapped_key,"
        " ciphertext, committed) VALUES (gen_random_uuid(), $1, $2, 1, $3, $4, true)",
        secret_id,
        project,
        wrapped,
        ciphertext,
    )

    assert await vault.reveal(pool, str(project), "FOREIGN") is None


async def test_an_instance_key_rotation_rewraps_every_value_without_touching_events(
    services: Services, pool: asyncpg.Pool
) -> None:
    from adapters.platform.cipher_key import resolve_cipher_key
    from adapters.secrets.rotation import rotate_instance_key

    project = await new_project(services)
    await send(services, SetSecret(project_id=project, name="ROTATED", value="stays-the-same"))
    events_before = await pool.fetchval("SELECT count(*) FROM events")
    old_key = base64.b64decode(resolve_cipher_key(services.settings))
    new_key = b"n" * 32
    secret_id = secret_stream_id(project, "ROTATED", None)
    [before] = await pool.fetch("SELECT * FROM secret_values WHERE secret_id = $1", secret_id)

    first = await rotate_instance_key(pool, old_key=old_key, new_key=new_key)
    try:
        second = await rotate_instance_key(pool, old_key=old_key, new_key=new_key)
        [after] = await pool.fetch("SELECT * FROM secret_values WHERE secret_id = $1", secret_id)
        assert first.rewrapped >= 1 and second.rewrapped == 0 and second.already >= 1
        assert after["ciphertext"] == before["ciphertext"]
        assert after["wrapped_key"] != before["wrapped_key"]
        opened = crypto.open_value(new_key, secret_id, 1, after["wrapped_key"], after["ciphertext"])
        assert opened == "stays-the-same"
        assert (
            crypto.open_value(old_key, secret_id, 1, after["wrapped_key"], after["ciphertext"])
            is None
        )
        assert await pool.fetchval("SELECT count(*) FROM events") == events_before
        # This process knows only the old key: it no longer reveals it; one with the new does.
        assert await vault.reveal(pool, str(project), "ROTATED") is None
        vault.install(new_key)
        revealed = await vault.reveal(pool, str(project), "ROTATED")
        assert revealed is not None and revealed.value == "stays-the-same"
    finally:
        # The database is shared with later tests: every key back under their instance key.
        await rotate_instance_key(pool, old_key=new_key, new_key=old_key)
