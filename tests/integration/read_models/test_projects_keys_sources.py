"""The projects, API keys and webhook sources read models; no secret ever reaches them."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID, uuid4

from adapters.store import NewEvent
from commands import api_keys, projects, webhook_sources
from commands.outcome import SecretShown
from domain.envelope import EventMetadata
from projections.api_keys import get_api_key, list_api_keys
from projections.paging import Page
from projections.projects import get_project, list_projects
from projections.webhook_sources import get_webhook_source, list_webhook_sources
from tests.integration.read_models.conftest import Driver, Projected


async def test_projects_created_renamed_archived_and_an_old_event_upcast(
    driver: Driver, projected: Projected
) -> None:
    project = await driver.project("first")
    created = driver.now
    await driver.send(projects.RenameProject(project_id=project, name="renamed"))
    await driver.send(projects.ArchiveProject(project_id=project))
    old = uuid4()
    # A v1 ProjectCreated, from before projects had a description.
    await driver.services.store.append(
        str(old),
        "project",
        [
            NewEvent(
                type="ProjectCreated",
                schema_version=1,
                data={"name": "old", "slug": "old", "occurred_at": "2025-01-01T00:00:00Z"},
            )
        ],
        expected_version=0,
        metadata=EventMetadata(correlation_id=f"{driver.tag}:v1"),
    )
    await projected.catch_up()
    schema, pool = projected["projects"], projected.pool

    row = await get_project(pool, schema, project)
    assert row is not None
    assert (row.name, row.status, row.created_at, row.updated_at, row.stream_version) == (
        "renamed",
        "archived",
        created,
        driver.now,
        3,
    )
    upcast = await get_project(pool, schema, old)
    assert upcast is not None and upcast.description == ""
    listed = await list_projects(pool, schema, project_ids=(project, old), page=Page())
    assert [p.id for p in listed.items] == [project, old]
    archived = await list_projects(
        pool, schema, project_ids=None, status="archived", page=Page(order_by="name")
    )
    assert [p.id for p in archived.items] == [project]


async def test_api_keys_without_their_secret(driver: Driver, projected: Projected) -> None:
    project = await driver.project()
    expires = driver.now + timedelta(days=30)
    issued = await driver.send(
        api_keys.IssueApiKey(
            name="ci bot", scopes=("write", "read"), project_id=project, expires_at=expires
        )
    )
    everywhere = await driver.send(api_keys.IssueApiKey(name="ops", scopes=("admin",)))
    await driver.send(api_keys.RevokeApiKey(key_id=UUID(issued.id), reason="leaked"))
    await projected.catch_up()
    schema, pool = projected["api_keys"], projected.pool

    key = await get_api_key(pool, schema, UUID(issued.id))
    assert key is not None
    assert (key.name, key.project_id, key.scopes, key.expires_at, key.issued_by) == (
        "ci bot",
        project,
        ("read", "write"),
        expires,
        "alice",
    )
    assert (key.status, key.revoked_at, key.revoked_by, key.revoked_reason) == (
        "revoked",
        driver.now,
        "alice",
        "leaked",
    )
    assert isinstance(issued, SecretShown) and issued.secret is not None
    assert issued.secret.startswith(key.prefix)
    stored = await pool.fetch(f"SELECT to_jsonb(k)::text AS row FROM {schema}.api_keys k")
    assert not any(issued.secret in r["row"] or "hash" in r["row"] for r in stored)
    mine = await list_api_keys(pool, schema, project_ids=(project,), page=Page())
    assert [k.id for k in mine.items] == [UUID(issued.id)]
    active = await list_api_keys(pool, schema, project_ids=None, status="active", page=Page())
    assert [k.id for k in active.items] == [UUID(everywhere.id)]


async def test_webhook_sources_without_their_secret(driver: Driver, projected: Projected) -> None:
    project = await driver.project()
    registered = await driver.send(
        webhook_sources.RegisterWebhookSource(project_id=project, kind="github", name="gh")
    )
    source = UUID(registered.id)
    created = driver.now
    await driver.send(webhook_sources.RotateWebhookSecret(source_id=source, grace_s=60))
    rotated = driver.now
    await driver.send(webhook_sources.DisableWebhookSource(source_id=source, reason="noisy"))
    await projected.catch_up()
    schema, pool = projected["webhook_sources"], projected.pool

    row = await get_webhook_source(pool, schema, source)
    assert row is not None
    assert (row.kind, row.name, row.status, row.disabled_reason) == (
        "github",
        "gh",
        "disabled",
        "noisy",
    )
    assert (row.created_at, row.rotated_at, row.previous_valid_until) == (
        created,
        rotated,
        rotated + timedelta(seconds=60),
    )
    await driver.send(webhook_sources.EnableWebhookSource(source_id=source))
    await projected.catch_up()
    listed = await list_webhook_sources(pool, schema, project_ids=(project,), page=Page())
    assert [(s.id, s.status, s.disabled_reason) for s in listed.items] == [(source, "enabled", "")]
    stored = await pool.fetchval(
        f"SELECT string_agg(to_jsonb(w)::text, '') FROM {schema}.webhook_sources w"
    )
    assert isinstance(registered, SecretShown) and registered.secret is not None
    assert registered.secret not in stored and "sealed" not in stored
    assert (
        await list_webhook_sources(pool, schema, project_ids=(project,), kind="gitlab", page=Page())
    ).items == ()


async def test_each_view_answers_degraded_for_a_row_whose_events_are_quarantined(
    driver: Driver, projected: Projected
) -> None:
    project = await driver.project("held")
    issued = await driver.send(api_keys.IssueApiKey(name="k", scopes=("read",), project_id=project))
    await projected.catch_up()
    pool = projected.pool
    key = UUID(issued.id)
    queries = {
        "projects": lambda: get_project(pool, projected["projects"], project),
        "api_keys": lambda: get_api_key(pool, projected["api_keys"], key),
    }
    for view, row_of in queries.items():
        assert (await row_of()).degraded is False
        stream = str(project if view == "projects" else key)
        # As the runtime records an event its handler failed on.
        await pool.execute(
            "INSERT INTO projection_quarantine (projection, position, event_id, stream_id, type, "
            "status, error, error_class) SELECT $1, position, event_id, stream_id, type, "
            "'poison', 'boom', 'KeyError' FROM events WHERE stream_id = $2 AND version = 1",
            view,
            stream,
        )
        try:
            assert (await row_of()).degraded is True
        finally:
            await pool.execute(
                "DELETE FROM projection_quarantine WHERE projection = $1 AND stream_id = $2",
                view,
                stream,
            )
    keys = await list_api_keys(pool, projected["api_keys"], project_ids=(project,), page=Page())
    assert [k.degraded for k in keys.items] == [False]
