"""The consumer example in docs/streaming.md runs against a real relay and NATS."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import uuid

from adapters.store import EventStore
from adapters.streaming.relay import Relay, RelayConfig
from adapters.streaming.relay.docs import PATH
from tests.integration.relay.relaying import append, running, start_at_head, wait_checkpoint


def test_the_doc_has_one_python_example() -> None:
    assert len(re.findall(r"```python\n(.*?)```", PATH.read_text(), flags=re.S)) == 1


async def test_the_consumer_example_runs(
    store: EventStore, database_url: str, nats_url: str
) -> None:
    (block,) = re.findall(r"```python\n(.*?)```", PATH.read_text(), flags=re.S)
    config = RelayConfig()  # the documented stream and subjects; no other test uses them
    await start_at_head(database_url, config)
    project = str(uuid.uuid4())
    async with running(Relay(database_url, nats_url, config)):
        last = await append(store, project, "project", ("ProjectCreated", {"name": "p"}))
        await wait_checkpoint(database_url, config.stream, last)

    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", block],
        env={**os.environ, "NATS_URL": nats_url},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    assert (
        f"{last} ProjectCreated flowledger.events.{project}._.project.{project}.ProjectCreated"
        in (done.stdout)
    )
