"""A pipeline's `repository_file`, read at the pushed sha when a signed push is delivered over
HTTP: a real bare repository served over file://, `git daemon` and smart HTTP behind a token
(git-http-backend, https://git-scm.com/docs/git-http-backend), the intake role running.

Deliveries are GitHub's `push` payload (https://docs.github.com/en/webhooks/webhook-events-
and-payloads#push), signed with X-Hub-Signature-256 as GitHub signs them."""

from __future__ import annotations

import contextlib
import json
import secrets
import textwrap
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest
from litestar.testing import AsyncTestClient

from adapters.store.reader import read_stream_current
from commands.pipelines import CreatePipeline
from domain.pipeline_definition import PipelineDefinition
from domain.pipeline_file import RepositoryFileSpec
from domain.run import Run
from domain.step_spec import StepSpec
from domain.trigger_spec import TriggerSpec
from domain.webhook_delivery import delivery_stream_id
from tests.helpers import WEBHOOK_FIXTURES
from tests.integration.api.conftest import Keys
from tests.integration.runner.gitrepo import Origin, git_daemon, private_http
from tests.integration.webhooks.intake_world import (  # noqa: F401  (the `world` fixture)
    World,
    world_fixture,
)
from tests.integration.webhooks.support import sign
from tests.integration.webhooks.test_intake_role import outcome_of, role  # noqa: F401

PATH = ".flowledger/pipeline.yaml"
SECRET = "s" * 32  # the world's sources are registered with it
GOOD = textwrap.dedent(
    """\
    name: ci
    steps:
      - name: lint
        run: make lint
      - name: from-file
        run: make test
    triggers:
      - source: github
        events: [push]
    """
)
BAD = GOOD.replace("run: make test", "run: make test\n    retries: many")


async def deliver(
    client: AsyncTestClient, source: UUID, sha: str, url: str, kind: str = "github"
) -> str:
    """A push of `sha` to main of the repository at `url`, signed; its delivery stream."""
    if kind == "github":
        body = json.loads((WEBHOOK_FIXTURES / "github/push.branch-created.json").read_text())
        body.update(ref="refs/heads/main", after=sha, deleted=False)
        body["repository"]["clone_url"] = url
        event, id_header = "push", "X-GitHub-Delivery"
    else:
        body = json.loads((WEBHOOK_FIXTURES / "gitlab/push.json").read_text())
        body.update(ref="refs/heads/main", after=sha, checkout_sha=sha)
        body["project"]["git_http_url"] = url
        event, id_header = "Push Hook", "Idempotency-Key"
    raw = json.dumps(body).encode()
    delivery = sign(kind, SECRET, raw, event=event)
    answer = await client.post(f"/webhooks/{kind}/{source}", content=raw, headers=delivery.headers)
    assert answer.status_code == 202, answer.text
    return str(delivery_stream_id(source, delivery.headers[id_header]))


async def pipeline_with_file(
    world: World, project: UUID, kind: str = "github", **spec: str
) -> UUID:
    definition = PipelineDefinition(
        name="ci",
        steps=(StepSpec(name="build", run="make"),),
        triggers=(TriggerSpec(source=kind, events=("push",)),),
        repository_file=RepositoryFileSpec(path=PATH, **spec),
    )
    result = await world.send(CreatePipeline(project_id=project, definition=definition))
    await world.catch_up()
    return UUID(result.id)


async def pipeline_events(world: World, pipeline: UUID) -> list[tuple[str, dict, str]]:
    found = await read_stream_current(world.pool, str(pipeline))
    return [(e.type, e.data, e.metadata.actor or "") for e in found]


@contextlib.contextmanager
def served(transport: str, root: Path) -> Iterator[str]:
    """The origin's URL over `transport`."""
    if transport == "file":
        yield (root / "origin.git").as_uri()
    else:
        with git_daemon(root) as prefix:
            yield f"{prefix}/origin.git"


@pytest.mark.usefixtures("projector", "role")
@pytest.mark.parametrize("transport", ["file", "git-daemon"])
async def test_a_push_defines_the_version_its_file_holds_and_the_run_uses_it(
    world: World, client: AsyncTestClient, admin: dict[str, str], tmp_path: Path, transport: str
) -> None:
    project = await world.project()
    source = await world.source(project, "github")
    pipeline = await pipeline_with_file(world, project)
    origin = Origin(tmp_path)
    sha = origin.push({PATH: GOOD, "app.txt": "v1"}, "pipeline as code")

    with served(transport, tmp_path) as url:
        delivered = await outcome_of(world, await deliver(client, source, sha, url))
        # The same file again defines nothing new: the next run pins the same version.
        again_sha = origin.push({"app.txt": "v2"}, "no pipeline change")
        again = await outcome_of(world, await deliver(client, source, again_sha, url))

    assert delivered.outcome == "triggered", delivered.reason
    (run_id,) = delivered.runs
    run = await world.services.repository.get(Run, run_id)
    assert run.pipeline_version == 2
    assert list(run.steps) == ["lint", "from-file"]  # the file's steps, not the API's
    events = await pipeline_events(world, pipeline)
    assert [t for t, _, _ in events] == ["PipelineCreated", "PipelineVersionReadFromRepository"]
    _, data, actor = events[1]
    assert data["version"] == 2
    assert data["origin"] == {
        "repository": "Codertocat/Hello-World",
        "sha": sha,
        "path": PATH,
        "delivery_id": data["origin"]["delivery_id"],
    }
    assert [s["name"] for s in data["definition"]["steps"]] == ["lint", "from-file"]
    # The file cannot move where the pipeline's file is: it is kept from the API's version.
    assert data["definition"]["repository_file"]["path"] == PATH
    assert actor == "Codertocat"  # who: the push
    assert again.outcome == "triggered", again.reason
    rerun = await world.services.repository.get(Run, again.runs[0])
    assert rerun.pipeline_version == 2
    assert len(await pipeline_events(world, pipeline)) == 2
    head = await world.pool.fetchval("SELECT max(position) FROM events")
    shown = await client.get(
        f"/api/v1/pipelines/{pipeline}/file-reads", params={"min_position": head}, headers=admin
    )
    assert shown.status_code == 200, shown.text
    (read,) = shown.json()["items"]
    assert (read["outcome"], read["version"], read["origin"]["sha"]) == ("defined", 2, sha)


@pytest.mark.usefixtures("projector", "role")
async def test_an_invalid_file_starts_no_run_and_records_its_line_and_column(
    world: World, client: AsyncTestClient, admin: dict[str, str], keys: Keys, tmp_path: Path
) -> None:
    project = await world.project()
    source = await world.source(project, "github")
    pipeline = await pipeline_with_file(world, project)
    origin = Origin(tmp_path)
    bad = origin.push({PATH: BAD}, "a typo")
    not_yaml = origin.push({PATH: "name: [unclosed\nsteps: []\n"}, "broken")

    refused = await outcome_of(world, await deliver(client, source, bad, origin.url))
    broken = await outcome_of(world, await deliver(client, source, not_yaml, origin.url))
    missing = await outcome_of(world, await deliver(client, source, "1234" * 10, origin.url))

    for outcome in (refused, broken, missing):
        assert (outcome.outcome, outcome.runs) == ("failed", ()), outcome.reason
    # The trigger history (the delivery's outcome) says where the file went wrong.
    assert "line 7, column 14" in refused.reason and "steps[1].retries" in refused.reason
    assert "line 2, column 6" in broken.reason
    events = await pipeline_events(world, pipeline)
    assert [t for t, _, _ in events] == ["PipelineCreated"] + 3 * ["PipelineRepositoryFileRefused"]
    problems = [data["problem"] for _, data, _ in events[1:]]
    assert (problems[0]["field"], problems[0]["line"], problems[0]["column"]) == (
        "steps[1].retries",
        7,
        14,
    )
    assert (problems[1]["line"], problems[1]["column"]) == (2, 6)
    assert problems[2]["line"] is None and "1234" * 10 in events[3][1]["origin"]["sha"]
    assert all(data["origin"]["path"] == PATH for _, data, _ in events[1:])
    # On the pipeline: its file reads, newest first, each problem with its place.
    head = await world.pool.fetchval("SELECT max(position) FROM events")
    shown = await client.get(
        f"/api/v1/pipelines/{pipeline}/file-reads", params={"min_position": head}, headers=admin
    )
    assert shown.status_code == 200, shown.text
    items = shown.json()["items"]
    assert [i["outcome"] for i in items] == ["refused"] * 3
    assert items[2]["problem"] == {
        "reason": problems[0]["reason"],
        "field": "steps[1].retries",
        "line": 7,
        "column": 14,
    }
    assert (items[2]["origin"]["sha"], items[2]["actor"]) == (bad, "Codertocat")
    elsewhere = await keys.make("read", project_id=await world.project())
    hidden = await client.get(f"/api/v1/pipelines/{pipeline}/file-reads", headers=elsewhere)
    assert hidden.status_code == 404
    runs = await world.pool.fetchval(
        "SELECT count(*) FROM events WHERE type = 'RunRequested' AND data->>'pipeline_id' = $1",
        str(pipeline),
    )
    assert runs == 0


@pytest.mark.usefixtures("projector", "role")
async def test_a_private_repository_is_read_with_the_projects_token_secret(
    world: World, client: AsyncTestClient, admin: dict[str, str], tmp_path: Path
) -> None:
    token = "tok-" + secrets.token_urlsafe(24)  # made at run time: no file holds it
    project = await world.project()
    source = await world.source(project, "github")
    pipeline = await pipeline_with_file(world, project, token_secret="GIT_TOKEN", username="ci")
    origin = Origin(tmp_path)
    sha = origin.push({PATH: GOOD}, "private pipeline")

    with private_http(tmp_path, "ci", token) as (server, seen):
        url = f"{server}/origin.git"
        without = await outcome_of(world, await deliver(client, source, sha, url))
        answer = await client.put(
            f"/api/v1/projects/{project}/secrets/GIT_TOKEN", json={"value": token}, headers=admin
        )
        assert answer.status_code == 200, answer.text
        wrong = await client.put(
            f"/api/v1/projects/{project}/secrets/GIT_TOKEN", json={"value": "nope"}, headers=admin
        )
        assert wrong.status_code == 200
        refused = await outcome_of(world, await deliver(client, source, sha, url))
        await client.put(
            f"/api/v1/projects/{project}/secrets/GIT_TOKEN", json={"value": token}, headers=admin
        )
        read = await outcome_of(world, await deliver(client, source, sha, url))

    assert without.outcome == "failed" and "no value for the token secret" in without.reason
    assert refused.outcome == "failed" and "could not read it" in refused.reason
    assert read.outcome == "triggered", read.reason
    assert any(a.startswith("Basic ") for a in seen)
    run = await world.services.repository.get(Run, read.runs[0])
    assert run.pipeline_version == 2
    types = [t for t, _, _ in await pipeline_events(world, pipeline)]
    assert types[-1] == "PipelineVersionReadFromRepository"
    held = await world.pool.fetchval(
        "SELECT count(*) FROM events WHERE strpos(data::text || metadata::text, $1) > 0", token
    )
    assert held == 0


@pytest.mark.usefixtures("projector", "role")
async def test_a_gitlab_push_reads_the_file_too(
    world: World, client: AsyncTestClient, tmp_path: Path
) -> None:
    project = await world.project()
    source = await world.source(project, "gitlab")
    pipeline = await pipeline_with_file(world, project, "gitlab")
    origin = Origin(tmp_path)
    sha = origin.push({PATH: GOOD.replace("source: github", "source: gitlab")}, "as code")

    delivered = await outcome_of(world, await deliver(client, source, sha, origin.url, "gitlab"))

    assert delivered.outcome == "triggered", delivered.reason
    run = await world.services.repository.get(Run, delivered.runs[0])
    assert (run.pipeline_version, list(run.steps)) == (2, ["lint", "from-file"])
    (_, (_, data, actor)) = await pipeline_events(world, pipeline)
    assert (data["origin"]["repository"], data["origin"]["sha"]) == ("mike/diaspora", sha)
    assert actor == "jsmith"  # user_username: who pushed
