"""Artifacts through real runners and the real embedded NATS object store: uploaded by one
step, downloaded by a later step, by the API (whole and by `Range`) and by the CLI; each
upload recorded on the run (name, size, sha256, object key, retention; no content)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.integration.runner.files_support import cli, listed, project_key, succeeded
from tests.integration.runner.stack import Stack, runners

MAKE = (
    "mkdir -p dist reports/a reports/b\n"
    "head -c 300000 /dev/urandom > dist/app.bin\n"
    "echo one > reports/a/1.xml\necho two > reports/b/2.xml\necho no > reports/skip.txt\n"
)


async def test_an_artifact_goes_to_a_later_step_the_api_and_the_cli(
    stack: Stack, label: str, shared: Path, tmp_path: Path
) -> None:
    use = (
        f"sha256sum dist/app.bin | cut -d' ' -f1 > {shared}/seen\n"
        f"find reports -type f | sort > {shared}/reports\n"
    )
    pipeline = await stack.pipeline(
        [
            {"name": "build", "run": MAKE, "labels": [label], "artifacts": ["dist/app.bin"]},
            {"name": "report", "run": MAKE, "labels": [label],
             "artifacts": ["reports/**/*.xml"], "artifact_retention_days": 7},
            {"name": "use", "run": use, "labels": [label], "workspace": "clean",
             "download": ["build", "report"]},
        ]
    )  # fmt: skip
    async with runners(stack.runner_config(label)):
        run_id = await stack.trigger(pipeline)
        assert await succeeded(stack, run_id)

    events = await stack.events(run_id)
    uploads = {
        d["name"]: d for _, t, d in events if t == "ArtifactUploaded" and d["kind"] == "artifact"
    }
    build = uploads["build"]
    assert (build["format"], build["path"], build["size"]) == ("file", "dist/app.bin", 300000)
    assert build["object_key"] == f"runs/{run_id}/artifacts/build"
    assert build["retention_days"] == 30 and uploads["report"]["retention_days"] == 7
    assert uploads["report"]["format"] == "tar"
    # The later step started clean, got both, and saw the very bytes the first one made.
    assert (shared / "seen").read_text().strip() == build["sha256"]
    assert (shared / "reports").read_text().split() == ["reports/a/1.xml", "reports/b/2.xml"]

    items = {i["name"]: i for i in await listed(stack, run_id, 2)}
    assert items["build"]["sha256"] == build["sha256"] and items["build"]["kind"] == "artifact"
    url = f"/api/v1/pipeline-runs/{run_id}/artifacts/build"
    whole = await stack.http.get(url, headers=stack.admin)
    assert whole.status_code == 200 and len(whole.content) == 300000
    assert hashlib.sha256(whole.content).hexdigest() == build["sha256"]
    assert whole.headers["etag"] == f'"{build["sha256"]}"'
    assert whole.headers["accept-ranges"] == "bytes"
    for header, start, end in (
        ("bytes=1000-299999", 1000, 300000),
        ("bytes=262140-262200", 262140, 262201),  # across the object store's chunk edge
        ("bytes=299990-", 299990, 300000),
        ("bytes=-10", 299990, 300000),
        ("bytes=0-999999", 0, 300000),
    ):
        part = await stack.http.get(url, headers={**stack.admin, "Range": header})
        assert part.status_code == 206, (header, part.text)
        assert part.content == whole.content[start:end], header
        assert part.headers["content-range"] == f"bytes {start}-{end - 1}/300000"

    code, out, err = await cli(stack, "artifacts", "download", run_id, "build",
                               "-o", "got.bin", cwd=str(tmp_path))  # fmt: skip
    assert code == 0, err
    assert (tmp_path / "got.bin").read_bytes() == whole.content
    code, out, err = await cli(stack, "artifacts", "download", run_id, "report",
                               cwd=str(tmp_path))  # fmt: skip
    assert code == 0, err
    assert out.strip() == "report.tar" and (tmp_path / "report.tar").stat().st_size > 0
    code, out, _ = await cli(stack, "artifacts", "list", run_id, cwd=str(tmp_path))
    assert code == 0 and f"build\tartifact\t300000\t{build['sha256']}" in out


async def test_bad_ranges_unknown_runs_and_artifacts_and_other_projects(
    stack: Stack, label: str, tmp_path: Path
) -> None:
    pipeline = await stack.pipeline(
        [{"name": "build", "run": MAKE, "labels": [label], "artifacts": ["dist/app.bin"]}]
    )
    async with runners(stack.runner_config(label)):
        run_id = await stack.trigger(pipeline)
        assert await succeeded(stack, run_id)
    await listed(stack, run_id, 1)
    url = f"/api/v1/pipeline-runs/{run_id}/artifacts/build"
    for bad in (
        "bytes=300000-",
        "bytes=10-5",
        "bytes=-0",
        "bytes=300000-,-0",
        "lines=1-2",
        "bytes=-",
    ):
        answer = await stack.http.get(url, headers={**stack.admin, "Range": bad})
        assert answer.status_code == 416, (bad, answer.text)
        assert answer.json()["code"] == "range_not_satisfiable"
        assert answer.headers["content-range"] == "bytes */300000"

    unknown_run = "/api/v1/pipeline-runs/00000000-0000-4000-8000-000000000000/artifacts"
    for path in (unknown_run, f"{unknown_run}/build", f"{url[: -len('build')]}nothing"):
        answer = await stack.http.get(path, headers=stack.admin)
        assert answer.status_code == 404, (path, answer.text)
    stranger = await project_key(stack, ["read"])
    for path in (f"/api/v1/pipeline-runs/{run_id}/artifacts", url):
        answer = await stack.http.get(path, headers=stranger)
        assert answer.status_code == 404, (path, answer.text)
    code, _, err = await cli(stack, "artifacts", "download", run_id, "nothing",
                             cwd=str(tmp_path))  # fmt: skip
    assert code == 4 and "has no artifact 'nothing'" in err
    assert not (tmp_path / "nothing").exists()


async def test_a_definition_over_the_artifact_limits_is_refused(stack: Stack, label: str) -> None:
    project = await stack.http.post(
        "/api/v1/projects", json={"name": "limits", "slug": f"l-{label}"[:40]},
        headers=stack.admin,
    )  # fmt: skip
    base = {"project_id": project.json()["id"], "name": f"p-{label}"}
    cases = [
        ({"artifacts": [f"f{i}" for i in range(33)]}, "artifacts"),
        ({"artifacts": ["x" * 256]}, "artifacts"),
        ({"artifacts": ["../etc/passwd"]}, "artifacts"),
        ({"artifacts": ["/etc/passwd"]}, "artifacts"),
        ({"download": ["nobody"]}, "download"),
        ({"artifact_retention_days": 0}, "artifact_retention_days"),
        ({"artifact_retention_days": 401}, "artifact_retention_days"),
        ({"cache": {"key": "k-${{ env.X }}", "paths": ["a"]}}, "cache"),
        ({"cache": {"key": "k", "paths": []}}, "cache"),
        ({"workspace": "dirty"}, "workspace"),
    ]
    for extra, field in cases:
        step = {"name": "s", "run": "true", "labels": [label], **extra}
        answer = await stack.http.post(
            "/api/v1/pipelines", json={**base, "steps": [step]}, headers=stack.admin
        )
        assert answer.status_code in (400, 422), (extra, answer.text)
        assert field in answer.text, (extra, answer.text)
    # A download from a step that is not a `needs` ancestor may not have run yet.
    steps = [
        {"name": "a", "run": "true", "artifacts": ["x"], "needs": []},
        {"name": "b", "run": "true", "download": ["a"], "needs": []},
        {"name": "c", "run": "true", "needs": ["a"]},
    ]
    answer = await stack.http.post(
        "/api/v1/pipelines", json={**base, "steps": steps}, headers=stack.admin
    )
    assert answer.status_code == 422 and "not among the steps" in answer.text, answer.text


async def test_an_artifact_over_the_runners_limit_fails_the_step(stack: Stack, label: str) -> None:
    make = "head -c 5000 /dev/zero > big.bin"
    pipeline = await stack.pipeline(
        [{"name": "build", "run": make, "labels": [label], "artifacts": ["big.bin"]}]
    )
    async with runners(stack.runner_config(label, artifact_max_bytes=4096)):
        run_id = await stack.trigger(pipeline)
        assert await stack.finished(run_id) == "RunFailed"
    events = await stack.events(run_id)
    (failed,) = [d for _, t, d in events if t == "StepFailed"]
    assert "artifact of 5000 bytes is over the runner's limit of 4096 bytes" in failed["reason"]
    assert not [t for _, t, _ in events if t == "ArtifactUploaded"]


async def test_a_record_must_fit_its_run_and_its_rules(stack: Stack, label: str) -> None:
    pipeline = await stack.pipeline([{"name": "build", "run": "true", "labels": [label]}])
    async with runners(stack.runner_config(label)):
        run_id = await stack.trigger(pipeline)
        assert await succeeded(stack, run_id)
    good = {"step": "build", "attempt": 1, "format": "tar", "size": 1, "sha256": "a" * 64,
            "object_key": f"runs/{run_id}/artifacts/build", "retention_days": 1}  # fmt: skip
    runner = {"X-API-Key": stack.runner_token}
    url = f"/api/v1/pipeline-runs/{run_id}/artifacts"
    for bad in ({"sha256": "xyz"}, {"size": -1}, {"retention_days": 0}, {"format": "zip"},
                {"attempt": "one"}, {"content": "no"}):  # fmt: skip
        answer = await stack.http.post(url, json=good | bad, headers=runner)
        assert answer.status_code == 422, (bad, answer.text)
    json_type = {"Content-Type": "application/json"}
    answer = await stack.http.post(url, content=b"{not json", headers=runner | json_type)
    assert answer.status_code == 400, answer.text
    # The run has ended: nothing more is stored for it.
    answer = await stack.http.post(url, json=good, headers=runner)
    assert answer.status_code == 409, answer.text
    unknown = "/api/v1/pipeline-runs/00000000-0000-4000-8000-000000000000/artifacts"
    assert (await stack.http.post(unknown, json=good, headers=runner)).status_code == 404
    reader = await project_key(stack, ["read"])
    answer = await stack.http.post(url, json=good, headers=reader)
    assert answer.status_code == 404, answer.text  # another project's run: not even there
    cache = {"step": "build", "attempt": 1, "outcome": "restored", "key": "k", "exact": True}
    answer = await stack.http.post(f"/api/v1/pipeline-runs/{run_id}/caches", json=cache,
                                   headers=runner)  # fmt: skip
    assert answer.status_code == 409, answer.text
