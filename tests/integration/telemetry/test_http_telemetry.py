"""/metrics, X-Request-ID and log hygiene, through the real app over a real database."""

import io
import logging
import re
import uuid

import pytest
from prometheus_client.parser import text_string_to_metric_families

from adapters.telemetry.logs import JsonFormatter


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def project_body(prefix: str) -> dict[str, str]:
    slug = f"{prefix}-{uuid.uuid4().hex[:8]}"
    return {"name": slug, "slug": slug}


async def metrics(client) -> dict:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


async def test_requests_are_counted_by_route_template_and_status(client, admin):
    before = await metrics(client)
    unknown = uuid.uuid4()
    for _ in range(3):
        response = await client.post(f"/api/v1/pipeline-runs/{unknown}/cancel", headers=admin)
        assert response.status_code == 404
    after = await metrics(client)

    labels = {
        "method": "POST",
        "path": "/api/v1/pipeline-runs/{run_id}/cancel",
        "status_code": "404",
    }
    name = "flowledger_http_requests_total"
    assert value(after, name, **labels) - value(before, name, **labels) == 3
    timed = {k: v for k, v in labels.items() if k != "status_code"}
    histogram = "flowledger_http_request_duration_seconds_count"
    assert value(after, histogram, **timed) - value(before, histogram, **timed) == 3


async def test_commands_and_appended_events_are_counted_by_kind(client, admin):
    before = await metrics(client)
    response = await client.post("/api/v1/projects", json=project_body("metrics"), headers=admin)
    assert response.status_code == 201, response.text
    rejected = await client.post("/api/v1/projects", json={"name": "", "slug": ""}, headers=admin)
    assert rejected.status_code == 422
    after = await metrics(client)

    appended = "flowledger_events_appended_total"
    assert (
        value(after, appended, type="ProjectCreated")
        - value(before, appended, type="ProjectCreated")
        == 1
    )
    commands = "flowledger_commands_total"
    ok = {"command": "CreateProject", "outcome": "ok"}
    assert value(after, commands, **ok) - value(before, commands, **ok) == 1
    assert value(after, "flowledger_append_batch_events_count") > value(
        before, "flowledger_append_batch_events_count"
    )


async def test_lag_gauges_come_from_the_database(client, admin):
    found = await metrics(client)
    assert value(found, "flowledger_database_up") == 1
    assert value(found, "flowledger_event_head_position") >= 1


async def test_a_request_id_is_echoed_when_sane_and_made_up_otherwise(client):
    given = await client.get("/health", headers={"X-Request-ID": "abc-123.x:y"})
    assert given.headers["x-request-id"] == "abc-123.x:y"

    made = await client.get("/health")
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])

    hostile = await client.get("/health", headers={"X-Request-ID": "a b<>" + "x" * 300})
    assert re.fullmatch(r"[0-9a-f]{32}", hostile.headers["x-request-id"])

    problem = await client.get("/api/v1/pipelines", headers={"X-Request-ID": "req-401"})
    assert problem.status_code == 401
    assert problem.headers["x-request-id"] == "req-401"


@pytest.fixture
def all_logs():
    """Every log line the app writes at DEBUG, as the JSON formatter renders it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


async def test_keys_and_secrets_never_appear_in_the_logs(client, admin, all_logs):
    created = await client.post(
        "/api/v1/api-keys", json={"name": "log-check", "scopes": ["read"]}, headers=admin
    )
    assert created.status_code == 201, created.text
    token = created.json()["secret"]
    project = await client.post("/api/v1/projects", json=project_body("logs"), headers=admin)
    source = await client.post(
        "/api/v1/webhook-sources",
        json={"project_id": project.json()["id"], "kind": "github", "name": "gh"},
        headers=admin,
    )
    assert source.status_code == 201, source.text
    webhook_secret = source.json()["secret"]
    await client.get("/api/v1/pipelines", headers={"X-API-Key": token})
    await client.get("/api/v1/pipelines", headers={"X-API-Key": token + "tampered"})
    await client.get("/api/v1/pipelines", headers={"Authorization": f"Bearer {token}"})
    logging.getLogger("flowledger.test").debug("caller presented %s", token)

    output = all_logs.getvalue()
    assert output, "the app logged nothing at DEBUG: this test would prove nothing"
    # flk_<key id>_<secret>: the secret is base64url and may hold "_" itself.
    secret_part = token.split("_", 2)[2]
    assert secret_part not in output
    assert webhook_secret not in output
    assert admin["X-API-Key"].split("_", 2)[2] not in output
