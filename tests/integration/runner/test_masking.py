"""A runner masks secret values in what a real step prints and outputs: no event holds them."""

from __future__ import annotations

import sys

import pytest

from tests.integration.runner.stack import Stack, runners

# Built at run time: no file of the repository holds the value.
FIRST, SECOND = "k3y-Secret/Value+" + "x9&q=1", "second-LINE-" + "of-the-key"
SECRET = f"{FIRST}\n{SECOND}"
FORMS = (
    'import json, os, urllib.parse\nv = os.environ["DEPLOY_KEY"]\n'
    'print("url", urllib.parse.quote(v, safe=""))\nprint("json", json.dumps({"k": v}))\n'
)
SCRIPT = (
    'echo "plain $DEPLOY_KEY"\n'
    'echo "b64 $(printf %s "$DEPLOY_KEY" | base64 -w0)"\n'
    '"$PY" -c "$FORMS"\n'
    'echo "only $(printf %s "$DEPLOY_KEY" | tail -n1) here"\n'
    'echo "key=$DEPLOY_KEY" | head -n1 >> "$FLOWLEDGER_OUTPUTS"\n'
)


async def test_a_step_printing_a_masked_value_in_every_form_shows_only_stars(
    stack: Stack, label: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEPLOY_KEY", SECRET)  # the runner's own environment, steps inherit it
    env = {"PY": sys.executable, "FORMS": FORMS}
    pipeline = await stack.pipeline(
        [{"name": "deploy", "run": SCRIPT, "env": env, "labels": [label]}]
    )
    config = stack.runner_config(label, masked_env=("DEPLOY_KEY", "NOT_SET_ANYWHERE"))
    async with runners(config):
        run_id = await stack.trigger(pipeline)
        assert await stack.finished(run_id) == "RunSucceeded"

    events = await stack.events(run_id)
    log = "".join(d["text"] for _, t, d in events if t == "LogChunkAppended")
    assert log.splitlines() == [
        "plain ***",
        "b64 ***",
        "url ***",
        'json {"k": "***"}',
        "only *** here",
    ], log
    [done] = [d for _, t, d in events if t == "StepSucceeded"]
    assert done["outputs"] == {"key": "***"}
    # Neither line of the value is in any event of any stream.
    for part in (FIRST, SECOND):
        held = await stack.pool.fetchval(
            "SELECT count(*) FROM events WHERE strpos(data::text || metadata::text, $1) > 0",
            part,
        )
        assert held == 0, part
