"""Jenkins steps: a step of kind `jenkins` starts a job on a Jenkins server and follows it.

Nothing runs in a shell: a runner (one labelled `jenkins`, unless the step names labels)
triggers the job through Jenkins' remote access API, streams its console text into the
step's log, and ends the step with the build's result (`JENKINS_RESULTS`). The API token is
a project secret the step lists in its `secrets`, as a checkout's token is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Literal, Protocol
from urllib.parse import quote, urlsplit

import msgspec
from msgspec import Meta

from domain.errors import InvalidValue
from domain.limits import ENV_VALUE_MAX, ITEMS_MAX, URL_MAX, clean

JENKINS_LABEL = "jenkins"
"""The work queue of a jenkins step that names no labels of its own."""
JOB_PATH = re.compile(r"[^/\x00-\x1f]{1,200}(/[^/\x00-\x1f]{1,200}){0,9}")
JOB_RULE = "a job name, or folders and a job as `folder/job` (at most 10 parts)"
PARAMETER_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")

StepStatus = Literal["succeeded", "failed", "cancelled"]
JENKINS_RESULTS: Mapping[str, tuple[StepStatus, str]] = {
    "SUCCESS": ("succeeded", ""),
    # Built, but its tests failed: not a success to ship (`allow_failure` lets the run go on).
    "UNSTABLE": ("failed", "Jenkins build unstable"),
    "FAILURE": ("failed", "Jenkins build failed"),
    # Aborted by someone in Jenkins: the step did not do its work. (A flowledger cancel that
    # stopped the build reports the step cancelled instead.)
    "ABORTED": ("failed", "Jenkins build aborted"),
    "NOT_BUILT": ("failed", "Jenkins build not built"),
}
"""A finished build's `result` as the step's status and reason."""


class JenkinsSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`jenkins: {url, job, parameters, user, token_secret}` of a step of kind `jenkins`."""

    url: Annotated[str, Meta(max_length=URL_MAX)]
    """The Jenkins root, `https://ci.example.com/` (or with a context path, `.../jenkins/`)."""
    job: Annotated[str, Meta(max_length=2000)]
    """The job's full name: `deploy`, or `team/deploy` for a job in a folder."""
    user: Annotated[str, Meta(max_length=100)]
    """The Jenkins user the API token belongs to."""
    token_secret: Annotated[str, Meta(max_length=100)]
    """The project secret holding the user's API token; also listed in the step's `secrets`."""
    parameters: Annotated[dict[str, str], Meta(max_length=ITEMS_MAX)] = {}
    """Build parameters (`${{ }}` templates as in `env`); none: the job is built with `/build`."""


class JenkinsStep(Protocol):
    """The StepSpec fields these checks read."""

    @property
    def kind(self) -> str: ...
    @property
    def run(self) -> str: ...
    @property
    def secrets(self) -> Sequence[str]: ...
    @property
    def jenkins(self) -> JenkinsSpec | None: ...


def check_jenkins_fields(step: JenkinsStep, at: str) -> None:
    """Raise InvalidValue for the first rule the step's `jenkins` fields break."""
    spec = step.jenkins
    if step.kind != "jenkins":
        if spec is not None:
            raise InvalidValue(f"{at}.jenkins", "only a step of kind jenkins has one")
        return
    if spec is None:
        raise InvalidValue(f"{at}.jenkins", "a jenkins step needs {url, job, user, token_secret}")
    if step.run:
        raise InvalidValue(f"{at}.run", "a jenkins step runs its Jenkins job: leave run out")
    parts = urlsplit(spec.url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        raise InvalidValue(f"{at}.jenkins.url", "an http(s) URL of the Jenkins root, no query")
    if parts.username or parts.password:
        raise InvalidValue(f"{at}.jenkins.url", "no credentials in the URL: use token_secret")
    clean(f"{at}.jenkins.url", spec.url)
    if not JOB_PATH.fullmatch(spec.job) or any(p in (".", "..") for p in spec.job.split("/")):
        raise InvalidValue(f"{at}.jenkins.job", JOB_RULE)
    clean(f"{at}.jenkins.job", spec.job)
    if not spec.user.strip():
        raise InvalidValue(f"{at}.jenkins.user", "must not be blank")
    clean(f"{at}.jenkins.user", spec.user)
    if spec.token_secret not in step.secrets:
        raise InvalidValue(
            f"{at}.jenkins.token_secret",
            f"{spec.token_secret!r} must also be listed in the step's secrets",
        )
    for name, value in spec.parameters.items():
        if not PARAMETER_NAME.fullmatch(name):
            raise InvalidValue(f"{at}.jenkins.parameters", f"{name!r}: 1-100 of [A-Za-z0-9_.-]")
        if len(value) > ENV_VALUE_MAX:
            raise InvalidValue(
                f"{at}.jenkins.parameters", f"{name!r}: at most {ENV_VALUE_MAX} characters"
            )
        clean(f"{at}.jenkins.parameters", value)


def job_url_path(job: str) -> str:
    """`team/deploy` as Jenkins addresses it: `job/team/job/deploy` (each part URL-quoted)."""
    return "/".join(f"job/{quote(part, safe='')}" for part in job.split("/"))


def step_result(result: str | None) -> tuple[StepStatus, str]:
    """The step's status and reason for a finished build's `result` (unknown ones fail)."""
    known = JENKINS_RESULTS.get((result or "").upper())
    if known is not None:
        return known
    return "failed", f"Jenkins build ended with an unknown result {result!r}"
