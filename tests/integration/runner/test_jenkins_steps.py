"""Jenkins steps end to end: a real runner starts a job on a local Jenkins that implements the
documented remote access API and CSRF crumb issuer (see tests/integration/runner/
jenkins_server.py for the documents), streams its console into the step's log, and ends with
the build's result; a cancel aborts the build; failures say why."""

from __future__ import annotations

import asyncio
import base64
import secrets as random_text
from typing import Any
from urllib.parse import parse_qs

from tests.integration.runner.jenkins_server import FakeJenkins, JobScript, serving
from tests.integration.runner.stack import Stack, runners
from tests.integration.runner.test_step_secrets import project_of, set_secret

USER = "ci-bot"
POLL_S = 0.05


def jenkins_step(label: str, url: str, job: str, **fields: Any) -> dict[str, Any]:
    return {
        "name": "deploy",
        "kind": "jenkins",
        "labels": [label],
        "secrets": ["JENKINS_TOKEN"],
        "jenkins": {"url": url, "job": job, "user": USER, "token_secret": "JENKINS_TOKEN"} | fields,
    }


async def run_once(
    stack: Stack, label: str, steps: list[dict[str, Any]], token: str, **parameters: Any
) -> tuple[str, list[tuple[int, str, dict[str, Any]]]]:
    pipeline = await stack.pipeline(
        steps, parameters=[{"name": "version", "type": "string", "default": "0.0.0"}]
    )
    await set_secret(stack, await project_of(stack, pipeline), "JENKINS_TOKEN", token)
    async with runners(stack.runner_config(label, jenkins_poll_s=POLL_S)):
        run_id = await stack.trigger(pipeline, **parameters)
        ended = await stack.finished(run_id)
    return ended, await stack.events(run_id)


def log_of(events: list[tuple[int, str, dict[str, Any]]]) -> str:
    return "".join(d["text"] for _, t, d in events if t == "LogChunkAppended")


def basic(token: str) -> str:
    return "Basic " + base64.b64encode(f"{USER}:{token}".encode()).decode()


async def test_a_jenkins_step_triggers_with_crumb_and_parameters_and_streams_the_console(
    stack: Stack, label: str
) -> None:
    token = "11" + random_text.token_hex(16)
    lines = ["Started by remote host", f"using token {token}", "Deploying 1.2.3", "done"]
    with serving(FakeJenkins(USER, token, {"team/deploy": JobScript(lines, queue_polls=2)})) as j:
        params = {"VERSION": "${{ params.version }}", "TARGET": "staging"}
        step = jenkins_step(label, j.url + "/", "team/deploy", parameters=params)
        ended, events = await run_once(stack, label, [step], token, version="1.2.3")

    assert ended == "RunSucceeded", events
    crumb_get, trigger = j.seen[0], j.requests("POST")[0]
    # The crumb first; the POST carries it in the header its issuer named, within the session.
    assert (crumb_get.method, crumb_get.path) == ("GET", "/crumbIssuer/api/json")
    assert trigger.path == "/job/team/job/deploy/buildWithParameters"
    assert trigger.headers["Jenkins-Crumb"] == next(iter(j.sessions.values()))
    assert trigger.headers["Cookie"] == f"JSESSIONID={next(iter(j.sessions))}"
    assert trigger.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(trigger.body.decode()) == {"VERSION": ["1.2.3"], "TARGET": ["staging"]}
    assert all(s.headers["Authorization"] == basic(token) for s in j.seen)
    polls = [s for s in j.seen if s.path == "/queue/item/1000/api/json"]
    assert len(polls) == 3 and all(s.method == "GET" for s in polls)  # waited twice, then #41
    starts = [int(s.query["start"][0]) for s in j.seen if s.path.endswith("/progressiveText")]
    assert starts[0] == 0 and starts == sorted(starts) and starts[-1] > 0

    log = log_of(events)
    for line in ("Started by remote host", "Deploying 1.2.3", "Finished: SUCCESS"):
        assert line in log
    assert token not in log and "using token ***" in log
    [linked] = [d for _, t, d in events if t == "JenkinsBuildLinked"]
    build_url = f"{j.url}/job/team/job/deploy/41/"
    assert (linked["step"], linked["attempt"], linked["number"]) == ("deploy", 1, 41)
    assert (linked["server"], linked["job"]) == (j.url + "/", "team/deploy")
    assert linked["url"] == build_url
    [done] = [d for _, t, d in events if t == "StepSucceeded"]
    assert done["outputs"] == {"build_number": "41", "build_url": build_url, "result": "SUCCESS"}


async def test_a_failed_build_fails_the_step_and_a_job_without_parameters_uses_build(
    stack: Stack, label: str
) -> None:
    token = random_text.token_hex(16)
    with serving(FakeJenkins(USER, token, {"flaky": JobScript(["boom"], result="FAILURE")})) as j:
        ended, events = await run_once(stack, label, [jenkins_step(label, j.url, "flaky")], token)
    assert ended == "RunFailed"
    assert [s.path for s in j.requests("POST")] == ["/job/flaky/build"]
    [failed] = [d for _, t, d in events if t == "StepFailed"]
    assert failed["reason"] == "Jenkins build failed"
    assert failed["exit_code"] is None
    assert "Finished: FAILURE" in log_of(events)


async def test_a_wrong_token_an_unknown_job_and_a_cancelled_queue_item_fail_with_why(
    stack: Stack, label: str
) -> None:
    token = random_text.token_hex(16)
    jobs = {"app": JobScript(["x"]), "gone-in-queue": JobScript([], cancelled_in_queue=True)}
    cases = [
        ("app", "not-" + token, "HTTP 401: Jenkins refused the user and API token"),
        ("nope", token, "no job 'nope' on"),
        ("gone-in-queue", token, "Jenkins: the queue item was cancelled"),
    ]
    with serving(FakeJenkins(USER, token, jobs)) as j:
        for job, given, why in cases:
            ended, events = await run_once(stack, label, [jenkins_step(label, j.url, job)], given)
            assert ended == "RunFailed", job
            [failed] = [d for _, t, d in events if t == "StepFailed"]
            assert why in failed["reason"], (job, failed["reason"])
            assert why in log_of(events)
            assert given not in log_of(events)
    # A wrong token is never retried into a lockout: one refused request, nothing posted.
    assert [s.path for s in j.seen if s.headers["Authorization"] != basic(token)] == [
        "/crumbIssuer/api/json"
    ]


async def test_cancelling_the_run_aborts_the_jenkins_build(stack: Stack, label: str) -> None:
    token = random_text.token_hex(16)
    jobs = {"long": JobScript(["working..."], hold=True)}
    with serving(FakeJenkins(USER, token, jobs)) as j:
        pipeline = await stack.pipeline([jenkins_step(label, j.url, "long")])
        await set_secret(stack, await project_of(stack, pipeline), "JENKINS_TOKEN", token)
        async with runners(stack.runner_config(label, jenkins_poll_s=POLL_S)):
            run_id = await stack.trigger(pipeline)
            await stack.wait_for_event(run_id, ["JenkinsBuildLinked"])
            await asyncio.sleep(0.3)  # a few console reads while it runs
            answer = await stack.http.post(
                f"/api/v1/pipeline-runs/{run_id}/cancel", json={"reason": "enough"},
                headers=stack.admin,
            )  # fmt: skip
            assert answer.status_code == 202, answer.text
            assert await stack.finished(run_id) == "RunCancelled"
        events = await stack.events(run_id)
    [stop] = [s for s in j.requests("POST") if s.path.endswith("/stop")]
    assert stop.path == "/job/long/41/stop"
    assert stop.headers["Jenkins-Crumb"] == next(iter(j.sessions.values()))
    [cancelled] = [d for _, t, d in events if t == "StepCancelled"]
    assert cancelled["reason"].startswith("run cancelled by admin: enough")
    log = log_of(events)
    assert "aborting Jenkins build #41" in log and "Finished: ABORTED" in log
    # Followed to its end from where it was left: each console line once.
    assert log.count("working...") == 1 and log.count("Finished: ABORTED") == 1


async def test_a_jenkins_out_of_reach_for_a_while_is_asked_again(stack: Stack, label: str) -> None:
    token = random_text.token_hex(16)
    server = FakeJenkins(USER, token, {"app": JobScript(["ok"])})
    server.fail_next = 3  # the crumb, then the same request twice more: 503 each time
    with serving(server) as j:
        ended, events = await run_once(stack, label, [jenkins_step(label, j.url, "app")], token)
    assert ended == "RunSucceeded"
    assert [s.path for s in j.seen[:4]] == ["/crumbIssuer/api/json"] * 4
    assert log_of(events).count("HTTP 503; asking again") == 3


async def test_the_steps_timeout_aborts_the_build(stack: Stack, label: str) -> None:
    token = random_text.token_hex(16)
    with serving(FakeJenkins(USER, token, {"long": JobScript(["..."], hold=True)})) as j:
        step = jenkins_step(label, j.url, "long") | {"timeout_s": 2}
        ended, events = await run_once(stack, label, [step], token)
    assert ended == "RunFailed"
    assert [s.path for s in j.requests("POST") if s.path.endswith("/stop")] == ["/job/long/41/stop"]
    assert [d["step"] for _, t, d in events if t == "StepTimedOut"] == ["deploy"]
    log = log_of(events)
    assert "timed out after 2s: aborting Jenkins build #41" in log and "Finished: ABORTED" in log


async def test_cancelling_while_the_build_is_queued_cancels_the_queue_item(
    stack: Stack, label: str
) -> None:
    token = random_text.token_hex(16)
    with serving(FakeJenkins(USER, token, {"slow": JobScript(["x"], queue_polls=10_000)})) as j:
        pipeline = await stack.pipeline([jenkins_step(label, j.url, "slow")])
        await set_secret(stack, await project_of(stack, pipeline), "JENKINS_TOKEN", token)
        async with runners(stack.runner_config(label, jenkins_poll_s=POLL_S)):
            run_id = await stack.trigger(pipeline)
            await stack.wait_for_event(run_id, ["JenkinsBuildRequested"])
            await asyncio.sleep(0.3)
            answer = await stack.http.post(
                f"/api/v1/pipeline-runs/{run_id}/cancel", json={}, headers=stack.admin
            )
            assert answer.status_code == 202, answer.text
            assert await stack.finished(run_id) == "RunCancelled"
    [cancel] = [s for s in j.requests("POST") if s.path == "/queue/cancelItem"]
    assert cancel.query == {"id": ["1000"]}
    assert j.builds == {}
    events = await stack.events(run_id)
    assert "JenkinsBuildLinked" not in [t for _, t, _ in events]
    assert "cancelling the Jenkins queue item" in log_of(events)


async def test_a_refused_crumb_fails_the_step_with_jenkins_words(stack: Stack, label: str) -> None:
    token = random_text.token_hex(16)
    server = FakeJenkins(USER, token, {"app": JobScript(["x"])}, reject_crumbs=True)
    with serving(server) as j:
        ended, events = await run_once(stack, label, [jenkins_step(label, j.url, "app")], token)
    assert ended == "RunFailed"
    [failed] = [d for _, t, d in events if t == "StepFailed"]
    assert failed["reason"] == (
        "Jenkins: triggering app: HTTP 403: No valid crumb was included in the request"
    )
    assert len(j.requests("POST")) == 1  # refused, not retried


async def test_a_step_after_a_jenkins_step_reads_its_build_and_starts_without_its_workspace(
    stack: Stack, label: str
) -> None:
    token = random_text.token_hex(16)
    script = 'echo "deployed by build ${{ steps.deploy.outputs.build_number }}"'
    after = {"name": "announce", "needs": ["deploy"], "labels": [label], "run": script}
    with serving(FakeJenkins(USER, token, {"app": JobScript(["ok"])})) as j:
        steps = [jenkins_step(label, j.url, "app"), after]
        ended, events = await run_once(stack, label, steps, token)
    assert ended == "RunSucceeded", [t for _, t, _ in events]
    assert "deployed by build 41" in log_of(events)
