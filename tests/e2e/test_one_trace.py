"""One trace across processes: a webhook delivery, the run it starts, its step and log chunk,
and the WebSocket message that carries the chunk, with spans from `up` and from a gateway."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.e2e.test_up import free_port, wait_ready
from tests.helpers import WEBHOOK_FIXTURES, unique_id
from tests.integration.webhooks.support import sign

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="signals and /proc")

PUSH = WEBHOOK_FIXTURES / "github" / "push.branch-created.json"


def start(args: list[str], env: dict[str, str], out: Path, err: Path) -> subprocess.Popen[bytes]:
    with out.open("wb") as stdout, err.open("wb") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "adapters.cli.main", *args],
            env=env,
            stdout=stdout,
            stderr=stderr,
        )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def spans_in(path: Path) -> list[dict[str, Any]]:
    """The spans the console exporter wrote, one JSON object a line, among other output."""
    found = []
    for line in path.read_text().splitlines():
        if line.startswith("{") and '"trace_id"' in line:
            found.append(json.loads(line))
    return found


def base_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWLEDGER_")}
    return env | {
        "FLOWLEDGER_DATA_DIR": str(tmp_path / "data"),
        "FLOWLEDGER_TRACES_EXPORTER": "console",
        "FLOWLEDGER_TRACE_SAMPLE_RATIO": "1",
    }


async def prepare(api: httpx.AsyncClient) -> tuple[str, str, str, int]:
    """A project, a pipeline started by GitHub pushes, its source: (project, source, secret,
    the position to watch after)."""
    slug = unique_id("trace-")[:30]
    project = (await api.post("/api/v1/projects", json={"name": slug, "slug": slug})).json()
    pipeline = {
        "project_id": project["id"],
        "name": "traced",
        "steps": [{"name": "greet", "run": "echo traced-hello"}],
        "triggers": [{"source": "github", "events": ["push"]}],
    }
    created = await api.post("/api/v1/pipelines", json=pipeline)
    assert created.status_code == 201, created.text
    source = await api.post(
        "/api/v1/webhook-sources",
        json={"project_id": project["id"], "kind": "github", "name": "gh"},
    )
    assert source.status_code == 201, source.text
    answer = source.json()
    return project["id"], answer["id"], answer["secret"], answer["position"]


async def drive(api_url: str, gateway_url: str, key: str) -> dict[str, Any]:
    """Deliver the webhook; the WebSocket message carrying the step's log chunk."""
    async with httpx.AsyncClient(base_url=api_url, headers={"X-API-Key": key}) as api:
        project, source, secret, after = await prepare(api)
        path = f"{gateway_url}/ws/project/{project}?token={key}&after={after}"
        async with connect(path) as ws:
            body = PUSH.read_bytes()
            delivery = sign("github", secret, body, event="push")
            sent = await api.post(
                f"/webhooks/github/{source}", content=body, headers=delivery.headers
            )
            assert sent.status_code == 202, sent.text
            async with asyncio.timeout(60):
                while True:
                    message = json.loads(await ws.recv())
                    if message.get("type") == "LogChunkAppended":
                        return message


def test_a_webhook_to_websocket_flow_is_one_trace_across_processes(tmp_path: Path) -> None:
    port, gateway_port = free_port(), free_port()
    env = base_env(tmp_path) | {"FLOWLEDGER_PORT": str(port)}
    up_out, up_err = tmp_path / "up.out", tmp_path / "up.err"
    up = start(["up"], env, up_out, up_err)
    gateway = None
    try:
        wait_ready(up, port, up_err)
        announced = up_out.read_text()
        (database,) = re.findall(r"database\s+(postgresql://\S+)", announced)
        (nats,) = re.findall(r"nats\s+(nats://\S+)", announced)
        # `up` repeats its first-start banner once start-up is done: the same key, twice.
        (key,) = set(re.findall(r"X-API-Key: (flk_\S+)", announced))
        gw_env = base_env(tmp_path / "gw") | {
            "FLOWLEDGER_PORT": str(gateway_port),
            "FLOWLEDGER_DATABASE_URL": database,
            "FLOWLEDGER_NATS_URL": nats,
        }
        gw_out, gw_err = tmp_path / "gw.out", tmp_path / "gw.err"
        gateway = start(["gateway"], gw_env, gw_out, gw_err)
        wait_ready(gateway, gateway_port, gw_err)
        chunk = asyncio.run(
            drive(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{gateway_port}", key)
        )
    finally:
        if gateway is not None:
            stop(gateway)
        stop(up)

    assert chunk["data"]["text"].startswith("traced-hello"), chunk
    up_spans, gw_spans = spans_in(up_out), spans_in(gw_out)
    by_id = {s["context"]["span_id"]: s for s in up_spans + gw_spans}
    # The gateway's hop for the chunk's event, in the gateway process.
    (fan_out,) = [
        s
        for s in gw_spans
        if s["name"] == "gateway fan-out"
        and s["attributes"]["flowledger.position"] == chunk["position"]
    ]
    chain = [fan_out]
    while (parent := chain[-1].get("parent_id")) is not None:
        assert parent in by_id, f"{chain[-1]['name']} has a parent no process exported"
        chain.append(by_id[parent])
    names = [s["name"] for s in reversed(chain)]
    root = chain[-1]
    assert root["kind"] == "SpanKind.SERVER", names
    assert root["name"] == "POST /webhooks/{kind}/{source}", names
    assert {s["context"]["trace_id"] for s in chain} == {fan_out["context"]["trace_id"]}
    # A command run for a request is recorded on the request's span (named by its route).
    commands = [s["attributes"].get("flowledger.command") for s in reversed(chain)]
    named = [
        f"command {c}" if c and not n.startswith("command") else n
        for n, c in zip(names, commands, strict=True)
    ]
    for hop in (
        "intake delivery",
        "command TriggerRun",
        "runner step",
        "command AppendRunLogs",
        "relay publish",
        "gateway fan-out",
    ):
        assert hop in named, f"{hop} missing from {names} (commands {commands})"
    assert (
        named.index("intake delivery") < named.index("runner step") < named.index("relay publish")
    )
