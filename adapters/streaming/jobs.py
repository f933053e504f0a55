"""One step attempt as a JetStream job message, its subject, and the work-queue stream."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

import msgspec
from nats.js.api import RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from adapters.streaming.relay.subjects import token
from domain.run_dispatch import job_id_for

if TYPE_CHECKING:
    from nats.js import JetStreamContext

    from adapters.platform.settings import Settings

SUBJECT_PREFIX = "flowledger.jobs"
MSG_ID = "Nats-Msg-Id"
DEFAULT_STREAM = "FLOWLEDGER_JOBS"

__all__ = [
    "DEFAULT_STREAM",
    "MSG_ID",
    "SUBJECT_PREFIX",
    "Job",
    "JobCache",
    "JobCheckout",
    "JobFiles",
    "JobJenkins",
    "consumer_name",
    "decode_job",
    "encode_job",
    "ensure_jobs_stream",
    "job_id_for",
    "job_subject",
    "jobs_stream_config",
    "publish_headers",
]


class JobCheckout(msgspec.Struct, frozen=True, kw_only=True):
    """The step's `checkout`: the run's repository at its sha, fetched before `run`."""

    url: str | None
    """None: the run has no repository URL (the runner fails the step saying so)."""
    sha: str | None
    ref: str | None = None
    depth: int = 1
    path: str = ""
    submodules: bool = False
    token_secret: str | None = None
    """Which of the attempt's secrets (`Job.secrets`) is the token git authenticates with."""
    username: str = "x-access-token"


class Job(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a runner needs to run one attempt of one step, without database access."""

    job_id: UUID
    """uuid5 of run/step/attempt (`job_id_for`): the same attempt always has the same id."""
    run_id: UUID
    project_id: UUID
    pipeline_id: UUID
    pipeline_version: int
    step: str
    attempt: int
    run: str
    """The shell script, run with `bash -e`."""
    env: dict[str, str]
    parameters: dict[str, str]
    """The run's parameters as text (booleans as `true`/`false`)."""
    timeout_s: int
    label: str
    dispatched_at: datetime
    traceparent: str | None = None
    """W3C trace context of the event that made the step ready; sent back on every report."""
    log_seq: int = 1
    """The step's next log chunk number when the job was made: log numbers run on across
    attempts, so attempt 2 numbers its chunks from where attempt 1 stopped."""
    context: dict[str, str] = {}
    """FLOWLEDGER_TRIGGER_* and FLOWLEDGER_STEPS_*_OUTPUTS_* (domain/run_context.py)."""
    checkout: JobCheckout | None = None
    secrets: tuple[str, ...] = ()
    """Names of the project secrets the step declares: the runner fetches their values from
    the API for this attempt (never carried here: a broker keeps its messages)."""
    files: JobFiles | None = None
    """Artifacts, downloads, cache and workspace of the step (adapters/runner/files)."""
    jenkins: JobJenkins | None = None
    """A jenkins step's job: the runner starts and follows it instead of running `run`."""


class JobJenkins(msgspec.Struct, frozen=True, kw_only=True):
    """A step of kind `jenkins` (domain/jenkins_spec.py), its parameters rendered."""

    url: str
    job: str
    user: str
    token_secret: str
    """Which of the attempt's secrets (`Job.secrets`) is the user's API token."""
    parameters: dict[str, str] = {}


class JobCache(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    """The key template, `${{ hashFiles(...) }}` still unevaluated (the runner evaluates it)."""
    paths: tuple[str, ...]
    restore_keys: tuple[str, ...] = ()
    """Prefix templates tried in order when `key` has no entry."""


class JobFiles(msgspec.Struct, frozen=True, kw_only=True):
    """What a step keeps and takes besides its command (see domain/step_files.py)."""

    artifacts: tuple[str, ...] = ()
    download: tuple[str, ...] = ()
    cache: JobCache | None = None
    workspace: str = "inherit"
    needs: tuple[str, ...] = ()
    """The steps whose workspaces this one starts from (its effective needs)."""
    needs_from: dict[str, UUID] = {}
    """Of `needs`, those a failed-only retry carried over: the run whose workspace they left."""
    dependents: int = 0
    """How many steps start from this one's workspace (`workspace: clean` ones do not): above
    0, it is uploaded after."""
    retention_days: int = 30
    workspace_retention_days: int = 1
    branch: str = ""
    """The run's branch (refs/heads/<branch>): caches are scoped by it."""
    default_branch: str = "main"


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Job)


def encode_job(job: Job) -> bytes:
    return _encoder.encode(job)


def decode_job(data: bytes) -> Job:
    """Raises msgspec.ValidationError / DecodeError on a body that is not a job."""
    return _decoder.decode(data)


def job_subject(label: str) -> str:
    """`flowledger.jobs.<label>`, the label made a single safe subject token."""
    return f"{SUBJECT_PREFIX}.{token(label)}"


def consumer_name(label: str) -> str:
    """The durable pull consumer shared by every runner of `label`."""
    return f"runners-{token(label)}"


def publish_headers(job: Job) -> dict[str, str]:
    """`Nats-Msg-Id` = job id: JetStream drops a republished copy inside its duplicate window."""
    return {MSG_ID: str(job.job_id)}


def jobs_stream_config(settings: Settings) -> StreamConfig:
    return StreamConfig(
        name=settings.dispatch_stream,
        subjects=[f"{SUBJECT_PREFIX}.>"],
        retention=RetentionPolicy.WORK_QUEUE,
        storage=StorageType.FILE,
        num_replicas=settings.dispatch_replicas,
        duplicate_window=float(settings.dispatch_duplicate_window_s),
    )


async def ensure_jobs_stream(js: JetStreamContext, settings: Settings) -> None:
    """Create the work-queue stream, or bring an existing one to the configured settings."""
    config = jobs_stream_config(settings)
    try:
        await js.update_stream(config)
    except NotFoundError:
        await js.add_stream(config)
