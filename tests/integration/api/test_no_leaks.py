"""A key bound to project A gets, for anything of project B, exactly the answer it gets for an id
that does not exist: every route that takes an id, reads and commands alike."""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID, uuid4

import pytest
import pytest_asyncio
from litestar.testing import AsyncTestClient

from adapters.store.reader import head
from tests.helpers import unique_id
from tests.integration.api.queries_support import (
    get,
    pipeline,
    project,
    trigger,
)
from tests.integration.webhooks.support import sign

pytestmark = pytest.mark.usefixtures("projector")

DEFINITION = {"name": "ci", "steps": [{"name": "build", "run": "make"}]}
REPORT = {"status": "running", "step": "build"}
RUNNER = {"labels": ["linux"], "host": "h", "version": "1", "concurrency": 1}

# (who, method, path, body): every route that takes an id, with the scope that could use it.
ROUTES: list[tuple[str, str, str, Any]] = [
    ("reader", "GET", "/api/v1/projects/{project}", None),
    ("reader", "GET", "/api/v1/pipelines/{pipeline}", None),
    ("reader", "GET", "/api/v1/pipelines/{pipeline}/status", None),
    ("reader", "GET", "/api/v1/pipelines/{pipeline}/runs", None),
    ("reader", "GET", "/api/v1/pipelines/{pipeline}/visualization", None),
    ("reader", "GET", "/api/v1/pipelines/{pipeline}/visualization.svg", None),
    ("reader", "GET", "/api/v1/pipelines/{pipeline}/state?version=1", None),
    ("reader", "GET", "/api/v1/analytics/pipelines/{pipeline}", None),
    ("reader", "GET", "/api/v1/pipeline-runs/{run}", None),
    ("reader", "GET", "/api/v1/pipeline-runs/{run}/status", None),
    ("reader", "GET", "/api/v1/pipeline-runs/{run}/logs", None),
    ("reader", "GET", "/api/v1/pipeline-runs/{run}/history", None),
    ("reader", "GET", "/api/v1/pipeline-runs/{run}/state?version=1", None),
    ("reader", "GET", "/api/v1/events/{event}/trace", None),
    ("reader", "GET", "/api/v1/webhook-deliveries/{delivery}", None),
    ("reader", "GET", "/api/v1/runners/{runner}", None),
    ("admin", "GET", "/api/v1/api-keys/{key}", None),
    ("admin", "GET", "/api/v1/webhook-sources/{source}", None),
    ("writer", "PUT", "/api/v1/pipelines/{pipeline}", DEFINITION),
    ("writer", "DELETE", "/api/v1/pipelines/{pipeline}", None),
    ("writer", "POST", "/api/v1/pipelines/{pipeline}/activate", None),
    ("writer", "POST", "/api/v1/pipelines/{pipeline}/deactivate", None),
    ("writer", "POST", "/api/v1/pipelines/{pipeline}/runs", {}),
    ("writer", "POST", "/api/v1/pipeline-runs/{run}/cancel", None),
    ("writer", "POST", "/api/v1/pipeline-runs/{run}/retry", None),
    ("writer", "POST", "/api/v1/pipeline-runs/{run}/status", REPORT),
    ("writer", "POST", "/api/v1/pipeline-runs/{run}/logs", {"chunks": []}),
    ("runner", "POST", "/api/v1/runners/{runner}/heartbeat", None),
    ("runner", "POST", "/api/v1/runners/{runner}/deregister", None),
    ("admin", "DELETE", "/api/v1/api-keys/{key}", None),
    ("admin", "POST", "/api/v1/webhook-sources/{source}/disable", {}),
    ("admin", "POST", "/api/v1/webhook-sources/{source}/enable", None),
    ("admin", "POST", "/api/v1/webhook-sources/{source}/rotate-secret", {}),
    ("admin", "POST", "/api/v1/projects/{project}/rename", {"name": "mine now"}),
    ("admin", "DELETE", "/api/v1/projects/{project}", None),
]


@pytest_asyncio.fixture(scope="module")
async def theirs(client: AsyncTestClient, admin: dict[str, str], keys, services) -> dict[str, Any]:
    """Project B with one of everything, and keys bound to project A for every scope."""
    mine, their_project = await project(client, admin), await project(client, admin)
    their_ci = await pipeline(client, admin, their_project)
    their_run = (await trigger(client, admin, their_ci))["id"]
    their_runner_key = await keys.make("runner", project_id=UUID(their_project), name="b-runner")
    registered = await client.post(
        "/api/v1/runners", json={"name": unique_id("b-"), **RUNNER}, headers=their_runner_key
    )
    secret = unique_id("s-")
    source = await client.post(
        "/api/v1/webhook-sources",
        json={
            "project_id": their_project,
            "kind": "github",
            "name": unique_id("b-")[:40],
            "secret": secret,
        },
        headers=admin,
    )
    body = b'{"zen": "Keep it logically awesome."}'
    sent = sign("github", secret, body, event="ping")
    delivered = await client.post(
        f"/webhooks/github/{source.json()['id']}", content=body, headers=sent.headers
    )
    their_key = await client.post(
        "/api/v1/api-keys",
        json={"name": "b-key", "scopes": ["read"], "project_id": their_project},
        headers=admin,
    )
    assert {r.status_code for r in (registered, source, delivered, their_key)} <= {201, 202}
    [first, *_] = await services.store.read_stream(their_run)
    bound = {"project_id": UUID(mine)}
    world = {
        "ids": {
            "project": their_project,
            "pipeline": their_ci,
            "run": their_run,
            "runner": registered.json()["id"],
            "source": source.json()["id"],
            "delivery": delivered.json()["delivery"],
            "key": their_key.json()["id"],
            "event": str(first.event_id),
        },
        "reader": await keys.make("read", **bound, name="a-reader"),
        "writer": await keys.make("write", **bound, name="a-writer"),
        "runner": await keys.make("runner", **bound, name="a-runner"),
        "admin": await keys.make("admin", **bound, name="a-admin"),
    }
    await get(client, admin, "/api/v1/status", at=await head(services.store.pool))
    return world


def answer(response: Any, target: str) -> tuple[int, str, str]:
    """Status, code and detail, with the id asked for blanked out (it may be echoed)."""
    body = response.json() if response.content else {}
    return (
        response.status_code,
        body.get("code", ""),
        re.sub(target, "<id>", body.get("detail", "")),
    )


@pytest.mark.parametrize(("who", "method", "path", "body"), ROUTES)
async def test_anothers_resource_is_answered_as_a_missing_one(
    client: AsyncTestClient, theirs: dict[str, Any], services, who, method, path, body
) -> None:
    name = re.search(r"\{(\w+)\}", path).group(1)  # type: ignore[union-attr]
    theirs_id, nobody = theirs["ids"][name], str(uuid4())
    before = await services.store.head_position()

    answers = []
    for target in (theirs_id, nobody):
        response = await client.request(
            method,
            path.format(**{name: target}),
            headers=theirs[who],
            **({} if body is None else {"json": body}),
        )
        answers.append(answer(response, target))
        others = set(theirs["ids"].values()) - {target}
        assert not any(other in response.text for other in others), response.text

    hidden, missing = answers
    assert hidden == missing
    if name != "event":  # the trace needs `audit` on every project: 403 for any id
        assert hidden[0] == 404, hidden
    assert await services.store.head_position() == before


async def test_the_shared_runners_and_the_keys_own_ones_are_listed_not_anothers(
    client: AsyncTestClient, theirs: dict[str, Any]
) -> None:
    found = await get(client, theirs["reader"], "/api/v1/runners", limit=1000)

    assert theirs["ids"]["runner"] not in {runner["id"] for runner in found["items"]}


async def test_the_status_names_no_project_and_hides_view_errors_from_a_bound_key(
    client: AsyncTestClient, theirs: dict[str, Any], admin: dict[str, str]
) -> None:
    bound = await get(client, theirs["reader"], "/api/v1/status")
    full = await get(client, admin, "/api/v1/status")

    assert {v["name"] for v in bound["projections"]} == {v["name"] for v in full["projections"]}
    for view in bound["projections"]:
        assert (view["error"], view["error_position"], view["owner"]) == (None, None, None)
