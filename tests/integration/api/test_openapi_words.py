"""What the OpenAPI tells a newcomer: the trigger vocabulary as an enum with its meaning, the
webhook secret's length; and `HEAD /docs` answers like GET."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient


def find(schema: Any, key: str) -> list[Any]:
    """Every value under `key`, anywhere in `schema`."""
    found: list[Any] = []
    if isinstance(schema, dict):
        for k, v in schema.items():
            if k == key:
                found.append(v)
            found.extend(find(v, key))
    elif isinstance(schema, list):
        for v in schema:
            found.extend(find(v, key))
    return found


async def test_trigger_events_are_an_enum_with_their_meaning(client: AsyncTestClient) -> None:
    schema = (await client.get("/docs/openapi.json")).json()
    words = ["push", "tag_push", "pull_request", "merge_request", "workflow_run", "pipeline",
             "build"]  # fmt: skip
    assert words in find(schema, "enum")
    described = " ".join(d for d in find(schema, "description") if isinstance(d, str))
    assert "`tag_push`: a tag pushed: GitHub `push` to refs/tags/*" in described
    assert "Jenkins notification" in described


async def test_the_webhook_secret_says_its_length(client: AsyncTestClient) -> None:
    schema = (await client.get("/docs/openapi.json")).json()
    assert 16 in find(schema, "minLength")
    described = " ".join(d for d in find(schema, "description") if isinstance(d, str))
    assert "16 to 256 characters" in described


async def test_head_docs_answers_200_without_a_body(client: AsyncTestClient) -> None:
    for path in ("/docs", "/docs/openapi.json"):
        answer = await client.head(path)
        assert answer.status_code == 200, path
        assert answer.content == b""
    assert (await client.get("/docs")).status_code == 200


async def test_a_short_webhook_secret_is_refused_naming_the_field(
    client: AsyncTestClient, admin: dict[str, str]
) -> None:
    answer = await client.post(
        "/api/v1/webhook-sources",
        json={"project_id": "4d75746c-6c2d-491f-af04-8bc61b8c69f6", "kind": "github",
              "name": "short", "secret": "too-short"},
        headers=admin,
    )  # fmt: skip
    assert answer.status_code in (400, 422), answer.text
    assert "secret" in answer.text


async def test_a_bad_bearer_token_is_told_what_is_wrong_with_it(client: AsyncTestClient) -> None:
    for token, said in (("abc", "neither an API key"), ("flk_0_x", "malformed API key")):
        answer = await client.get("/api/v1/projects", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 401
        assert said in answer.text and "JWT secret" not in answer.text, answer.text
