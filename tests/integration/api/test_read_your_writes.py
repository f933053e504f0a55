"""Read-your-writes by default: a caller's read without `min_position` waits (bounded) for the
views to reach that caller's own last write, and only that caller's.

The waiting case runs against the session's projector; the bound, the other caller and the
switch are shown over a database of the test's own whose projector has stopped, so the views
stay behind the write for certain.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from adapters.bootstrap import api_app, open_services
from adapters.http.own_writes import AWAITED_HEADER, OwnWrites
from adapters.http.reads.consistency import POSITION_HEADER
from adapters.platform.admin_key import create_key
from adapters.platform.secrets import SecretBox
from adapters.platform.services import Services
from adapters.platform.settings import Settings
from commands import projects
from projections.projects import ProjectsProjection
from projections.runtime import Projector
from tests.helpers import unique_id
from tests.integration.api.conftest import Keys
from tests.integration.api.test_degraded_rows import send
from tests.integration.projections.counting import caught_up, running, wait_until


async def _rename(http: AsyncTestClient, project: str, name: str, key: dict[str, str]) -> int:
    answer = await http.post(f"/api/v1/projects/{project}/rename", json={"name": name}, headers=key)
    assert answer.status_code == 202, answer.text
    return answer.json()["position"]


@pytest.mark.usefixtures("projector")
async def test_a_rename_then_a_get_by_the_same_key_answers_the_new_name(
    settings: Settings, database_url: str, nats_url: str, keys: Keys
) -> None:
    # A generous bound: a loaded machine must not turn a slow projector into a failure.
    patient = msgspec.structs.replace(settings, read_your_writes_ms=30_000)
    app = api_app(patient, database_url=database_url, nats_url=nats_url)
    key = await keys.make("admin", name="ryw")
    async with AsyncTestClient(app=app) as http:
        created = await http.post(
            "/api/v1/projects", json={"name": "before", "slug": unique_id("p-")[:40]}, headers=key
        )
        assert created.status_code == 201, created.text
        project = created.json()["id"]
        for name in ("first", "second", "third"):
            position = await _rename(http, project, name, key)

            shown = await http.get(f"/api/v1/projects/{project}", headers=key)

            assert shown.status_code == 200, shown.text
            assert shown.json()["name"] == name
            assert int(shown.headers[POSITION_HEADER]) >= position
            assert AWAITED_HEADER not in shown.headers


async def _stopped_views(url: str, services: Services) -> tuple[str, dict[str, str], str]:
    """A project and two admin keys, with the projects view caught up and then left behind."""
    keys = []
    for name in ("writer", "other"):
        _, token = await create_key(
            services, name=name, scopes=("admin",), project_id=None, at=datetime.now(UTC)
        )
        keys.append({"X-API-Key": token})
    project = await send(services, projects.CreateProject(name="old", slug=unique_id("p-")))
    async with (
        asyncpg.create_pool(url, min_size=1, max_size=2) as pool,
        running(Projector(url, [ProjectsProjection()])),
    ):
        await wait_until(lambda: caught_up(pool, "projects"), what="projects view")
    return project, keys[0], keys[1]


async def test_the_bound_the_other_caller_and_the_switch_with_the_projector_stopped(
    fresh_database_url: str, nats_url: str, tmp_path: Path
) -> None:
    url = fresh_database_url
    settings = Settings(
        database_url=url,
        nats_url=nats_url,
        data_dir=tmp_path,
        cipher_key=SecretBox.generate_key(),
        rate_limit_per_key=0,
        rate_limit_per_address=0,
        read_your_writes_ms=300,
    )
    async with open_services(settings, url) as services:
        project, writer, other = await _stopped_views(url, services)
        app = api_app(settings, database_url=url, nats_url=nats_url)
        async with AsyncTestClient(app=app) as http:
            position = await _rename(http, project, "new", writer)

            # The writer's read waits for its write up to the bound, then answers anyway,
            # saying which write it did not reach.
            own = await http.get(f"/api/v1/projects/{project}", headers=writer)
            assert own.status_code == 200, own.text
            assert own.json()["name"] == "old"
            assert int(own.headers[AWAITED_HEADER]) == position
            assert int(own.headers[POSITION_HEADER]) < position

            # Another caller awaits nothing of the writer's.
            theirs = await http.get(f"/api/v1/projects/{project}", headers=other)
            assert theirs.status_code == 200, theirs.text
            assert theirs.json()["name"] == "old"
            assert AWAITED_HEADER not in theirs.headers

            # An explicit min_position still rules: it is a 503 when not reached.
            asked = await http.get(
                f"/api/v1/projects/{project}", params={"min_position": position}, headers=writer
            )
            assert asked.status_code == 503
            assert asked.json()["code"] == "projection_behind"
            # ... and a min_position already reached answers at once, without the header.
            reached = await http.get(
                f"/api/v1/projects/{project}", params={"min_position": 0}, headers=writer
            )
            assert reached.status_code == 200 and AWAITED_HEADER not in reached.headers

        off = msgspec.structs.replace(settings, read_your_writes_ms=0)
        app = api_app(off, database_url=url, nats_url=nats_url)
        async with AsyncTestClient(app=app) as http:
            await _rename(http, project, "newer", writer)

            shown = await http.get(f"/api/v1/projects/{project}", headers=writer)

            assert shown.status_code == 200 and shown.json()["name"] == "old"
            assert AWAITED_HEADER not in shown.headers
            remembered = app.state["own_writes"]
            assert isinstance(remembered, OwnWrites) and len(remembered) == 0
