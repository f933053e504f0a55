"""`PUT /api/v1/pipelines/{id}` with `Content-Type: application/yaml`, and the JSON Schema of
the file format at its stable URL, over a real socket."""

from __future__ import annotations

import textwrap
from typing import Any

import httpx
import jsonschema
import pytest
import yaml

from adapters.platform.services import Services
from domain.pipeline_definition import PipelineDefinition
from tests.helpers import unique_id

YAML = {"Content-Type": "application/yaml"}
AT = "triggers[0]"
PIPELINE = textwrap.dedent(
    """\
    # yaml-language-server: $schema=/api/v1/schemas/pipeline.json
    name: build and test
    parameters:
      - name: TARGET
        default: linux
    steps:
      - name: build
        run: make build
      - name: test
        run: make test
        needs: [build]
        retries: 1
    triggers:
      - source: schedule
        cron: "@daily"
        timezone: Europe/Berlin
    """
)


async def new_pipeline(http: httpx.AsyncClient, admin: dict[str, str]) -> str:
    slug = unique_id("y-")[:40]
    project = await http.post("/api/v1/projects", json={"name": "Y", "slug": slug}, headers=admin)
    body = {"project_id": project.json()["id"], **yaml.safe_load(PIPELINE)}
    body["steps"] = body["steps"][:1]
    created = await http.post("/api/v1/pipelines", json=body, headers=admin)
    assert created.status_code == 201, created.text
    return created.json()["id"]


@pytest.fixture
async def http(base_url: str) -> Any:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        yield client


async def events_of(services: Services, stream: str) -> list[str]:
    return [e.type for e in await services.store.read_stream(stream)]


async def test_a_yaml_body_defines_a_version_and_the_same_again_writes_nothing(
    http: httpx.AsyncClient, admin: dict[str, str], services: Services
) -> None:
    pipeline = await new_pipeline(http, admin)
    first = await http.put(
        f"/api/v1/pipelines/{pipeline}", content=PIPELINE, headers={**admin, **YAML}
    )
    again = await http.put(
        f"/api/v1/pipelines/{pipeline}", content=PIPELINE, headers={**admin, **YAML}
    )

    assert (first.status_code, again.status_code) == (202, 202), first.text
    assert await events_of(services, pipeline) == ["PipelineCreated", "PipelineVersionDefined"]
    shown = await http.get(
        f"/api/v1/pipelines/{pipeline}",
        params={"min_position": first.json()["position"]},
        headers=admin,
    )
    assert [s["name"] for s in shown.json()["definition"]["steps"]] == ["build", "test"]
    assert shown.json()["schedules"][0]["timezone"] == "Europe/Berlin"


@pytest.mark.parametrize(
    ("text", "code", "field", "line", "column"),
    [
        ("name: [unclosed\nsteps: []\n", "invalid_yaml", None, 2, 6),
        ("name: a\n  steps: x: y\n", "invalid_yaml", None, 2, 8),
        # One alias is already refused: there is no way to build a billion laughs.
        ("x: &a [1, 2]\nname: *a\nsteps: []\n", "invalid_yaml", None, 2, 7),
        ("name: b\nsteps:\n  - name: build\n    run: make\n    retries: many\n",
         "invalid_value", "steps[0].retries", 5, 14),
        ("name: b\nsteps:\n  - name: build\n    run: make\n    colour: blue\n",
         "invalid_value", "steps[0]", 3, 5),
        ("name: b\nsteps:\n  - {name: build, run: make}\ntriggers:\n"
         "  - source: schedule\n    cron: 61 * * * *\n", "invalid_value", f"{AT}.cron", 6, 11),
        ("name: b\nsteps:\n  - {name: build, run: make, needs: [nope]}\n",
         "invalid_value", "steps[0].needs", 3, 37),
        ("- just\n- a list\n", "invalid_value", None, None, None),
        ("", "invalid_input", "data", None, None),  # no body at all
        ("name: b\nsteps:\n  - {name: build, run: !!python/name:os.system }\n",
         "invalid_yaml", None, 3, 24),
    ],
)  # fmt: skip
async def test_a_refused_yaml_body_is_a_422_with_its_place(
    http: httpx.AsyncClient,
    admin: dict[str, str],
    services: Services,
    text: str,
    code: str,
    field: str | None,
    line: int | None,
    column: int | None,
) -> None:
    pipeline = await new_pipeline(http, admin)
    response = await http.put(
        f"/api/v1/pipelines/{pipeline}", content=text, headers={**admin, **YAML}
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == code, problem
    assert problem.get("field") == field, problem
    assert (problem.get("line"), problem.get("column")) == (line, column), problem
    assert await events_of(services, pipeline) == ["PipelineCreated"]


async def test_a_billion_laughs_is_refused_at_its_first_alias(
    http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [
        f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    ]
    pipeline = await new_pipeline(http, admin)
    response = await http.put(
        f"/api/v1/pipelines/{pipeline}", content="\n".join(lines), headers={**admin, **YAML}
    )
    assert (response.status_code, response.json()["line"]) == (422, 2)
    assert "aliases" in response.json()["detail"]


async def test_json_still_works_and_other_media_types_are_415(
    http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    pipeline = await new_pipeline(http, admin)
    as_json = await http.put(
        f"/api/v1/pipelines/{pipeline}", json=yaml.safe_load(PIPELINE), headers=admin
    )
    as_text = await http.put(
        f"/api/v1/pipelines/{pipeline}",
        content=PIPELINE,
        headers={**admin, "Content-Type": "text/plain"},
    )
    assert (as_json.status_code, as_text.status_code) == (202, 415)


async def test_a_yaml_body_is_checked_like_json_for_access(
    http: httpx.AsyncClient, admin: dict[str, str], keys: Any
) -> None:
    pipeline = await new_pipeline(http, admin)
    reader = await keys.make("read")
    unknown = "00000000-0000-4000-8000-000000000000"
    refused = await http.put(
        f"/api/v1/pipelines/{pipeline}", content=PIPELINE, headers={**reader, **YAML}
    )
    missing = await http.put(
        f"/api/v1/pipelines/{unknown}", content=PIPELINE, headers={**admin, **YAML}
    )
    assert (refused.status_code, missing.status_code) == (403, 404)


async def test_the_schema_is_published_without_a_key_and_matches_the_types(
    http: httpx.AsyncClient,
) -> None:
    response = await http.get("/api/v1/schemas/pipeline.json")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/schema+json")
    schema = response.json()
    jsonschema.Draft202012Validator.check_schema(schema)
    root = schema["$defs"]["PipelineFile"]
    assert set(root["properties"]) == {*PipelineDefinition.__struct_fields__, "id", "project_id"}
    validator = jsonschema.Draft202012Validator(schema)
    assert not list(validator.iter_errors(yaml.safe_load(PIPELINE)))
    wrong = yaml.safe_load(PIPELINE)
    wrong["steps"][0]["retries"] = "many"
    wrong["colour"] = "blue"
    assert {e.validator for e in validator.iter_errors(wrong)} >= {"additionalProperties"}
    assert any(list(e.path) == ["steps", 0, "retries"] for e in validator.iter_errors(wrong))
