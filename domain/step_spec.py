"""One step of a pipeline: what it runs, where, after which steps, and the rules it keeps."""

from __future__ import annotations

import re
from typing import Annotated

import msgspec
from msgspec import Meta

from domain.approval_spec import Decision, StepKind, check_approval_fields
from domain.concurrency_spec import ConcurrencySpec, check_step_concurrency
from domain.conditions import check_condition
from domain.credentials import credential_kind
from domain.definition_checks import (
    check_identifier,
    check_int_range,
    check_pattern,
    check_unique,
)
from domain.errors import InvalidValue
from domain.jenkins_spec import JenkinsSpec, check_jenkins_fields
from domain.limits import (
    ARTIFACT_PATHS_MAX,
    ENV_VALUE_MAX,
    ITEMS_MAX,
    LOG_CHUNK_MAX,
    MATRIX_AXES_MAX,
    MATRIX_INSTANCES_MAX,
    RETRIES_MAX,
    STEPS_MAX,
    TIMEOUT_MAX_S,
    Condition,
    Description,
    EnvironmentName,
    EnvValue,
    Identifier,
    Key,
    MatrixScalar,
    RetentionDays,
    Retries,
    SecretName,
    StepName,
    TimeoutS,
    clean,
)
from domain.matrix import check_matrix
from domain.parameter_spec import ParameterSpec
from domain.step_files import CacheSpec, Paths, WorkspaceMode, check_step_files
from domain.step_options import CheckoutSpec, check_step_options
from domain.step_secrets import check_step_secrets

RUN_MAX_BYTES = 64 * 1024
_ITEMS = Meta(max_length=ITEMS_MAX)
Label = Annotated[
    str,
    Meta(
        max_length=100,
        pattern=r"^(?:[A-Za-z0-9_.:-]{1,100}|\$\{\{ *matrix\.[A-Za-z_][A-Za-z0-9_]* *\}\})$",
    ),
]
"""A runner label, or `${{ matrix.<axis> }}` for a matrix step's own value."""
MatrixEntry = MatrixScalar | dict[Identifier, MatrixScalar]

_IF_WORDS = (
    "A condition in GitHub Actions' expression language, bare or as `${{ ... }}`: over "
    "`trigger.*`, `params.*`, `branch`, `matrix.*` and `steps.<needed step>.outcome|outputs.*`, "
    "with `success()`, `failure()`, `always()`, `cancelled()`. False skips the step."
)
_MATRIX_WORDS = (
    "Axes of values (`{python: ['3.11', '3.12'], os: [linux, mac]}`) plus `include` and "
    "`exclude` lists of combinations: the step runs once per combination, as "
    "`<step> (<axis>=<value>, ...)`."
)
_STEP_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")
_LABEL = re.compile(r"[A-Za-z0-9_.:-]{1,100}|\$\{\{ *matrix\.[A-Za-z_][A-Za-z0-9_]* *\}\}")


class StepSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One step: a shell command run on a runner with one of `labels`, after the steps it needs.

    A step of kind `approval` runs nothing: it waits for a person's decision (see
    `domain.approval_spec`); `timeout_s` is then how long it waits before `on_timeout`.
    """

    name: StepName
    run: Annotated[str, Meta(max_length=LOG_CHUNK_MAX)] = ""
    timeout_s: TimeoutS = 3600
    retries: Retries = 0
    env: Annotated[dict[Identifier, EnvValue], _ITEMS] = {}
    not_secret: Annotated[tuple[Identifier, ...], _ITEMS] = ()
    """`env` keys whose values only look like credentials (a public key id): kept as written."""
    needs: Annotated[tuple[StepName, ...], Meta(max_length=STEPS_MAX)] = ()
    allow_failure: bool = False
    labels: Annotated[tuple[Label, ...], _ITEMS] = ("linux",)
    kind: StepKind = "run"
    prompt: Description = ""
    """An approval step's question to its approvers."""
    inputs: Annotated[tuple[ParameterSpec, ...], _ITEMS] = ()
    """An approval step's typed fields; the values given become its outputs."""
    approvers: Annotated[tuple[Key, ...], _ITEMS] = ()
    """Who may decide (`key:<id>`, `jwt:<subject>`); empty: any holder of the approve scope."""
    on_timeout: Decision = "reject"
    environment: EnvironmentName | None = None
    """The project environment the step deploys to: its protection rules hold the step."""
    checkout: bool | CheckoutSpec = False
    """Clone the run's repository at its sha into the working folder before `run`."""
    queue_timeout_s: TimeoutS | None = None
    """Fail the step (`no_runner`) if no runner starts it this long after it is queued."""
    secrets: Annotated[tuple[SecretName, ...], _ITEMS] = ()
    """Project secrets given to the step as environment variables of the same names, masked in
    its log and outputs; names only (`domain/step_secrets.py`)."""
    artifacts: Paths = ()
    """Paths or globs in the workspace uploaded after the step, as the artifact `name`."""
    download: Annotated[tuple[StepName, ...], Meta(max_length=ARTIFACT_PATHS_MAX)] = ()
    """Artifacts (named after the steps that upload them) fetched into the workspace first."""
    cache: CacheSpec | None = None
    workspace: WorkspaceMode = "inherit"
    artifact_retention_days: RetentionDays = 30
    if_: Annotated[Condition, Meta(description=_IF_WORDS)] = msgspec.field(default="", name="if")
    """A condition (`domain/expressions.py`): false skips the step, with the reason."""
    matrix: Annotated[
        dict[Identifier, Annotated[tuple[MatrixEntry, ...], _ITEMS]],
        Meta(max_length=MATRIX_AXES_MAX + 2, description=_MATRIX_WORDS),
    ] = {}
    """Axes of values, plus `include` / `exclude` lists of combinations (`domain/matrix.py`)."""
    max_parallel: Annotated[
        int,
        Meta(
            ge=0,
            le=MATRIX_INSTANCES_MAX,
            description="Matrix instances queued or running at once, at most (0: no limit).",
        ),
    ] = 0
    """At most this many matrix instances queued or running at once (0: no limit)."""
    fail_fast: Annotated[
        bool, Meta(description="A matrix instance failing cancels the unfinished others.")
    ] = True
    concurrency: ConcurrencySpec | None = None
    """One step of the group (across runs) at a time; `queue` only (`domain/concurrency_spec`)."""
    jenkins: JenkinsSpec | None = None
    """A step of kind `jenkins`: the Jenkins job it starts and follows (`domain/jenkins_spec`)."""

    def check(self, at: str) -> None:
        """Raise InvalidValue, under the field path `at`, for the first rule the step breaks."""
        check_pattern(self.name, _STEP_NAME, f"{at}.name", "1-100 letters, digits, '_', '.' or '-'")
        check_approval_fields(self, at)
        check_jenkins_fields(self, at)
        if self.kind == "approval":
            self._check_common(at)
            return
        if self.kind == "jenkins":
            for field in ("checkout", "artifacts", "download", "cache"):
                if getattr(self, field):
                    raise InvalidValue(
                        f"{at}.{field}", "a jenkins step has no workspace: its job runs in Jenkins"
                    )
            self._check_common(at)
            return
        if not self.run.strip():
            raise InvalidValue(f"{at}.run", "must not be blank")
        if len(self.run.encode("utf-8", "surrogatepass")) > RUN_MAX_BYTES:
            raise InvalidValue(f"{at}.run", f"must be at most {RUN_MAX_BYTES} bytes")
        # execve cannot pass a NUL byte: a command or value holding one could never run.
        if "\x00" in self.run:
            raise InvalidValue(f"{at}.run", "must not contain a NUL character")
        clean(f"{at}.run", self.run)
        self._check_common(at)

    def _check_common(self, at: str) -> None:
        check_int_range(self.timeout_s, 1, TIMEOUT_MAX_S, f"{at}.timeout_s")
        check_int_range(self.retries, 0, RETRIES_MAX, f"{at}.retries")
        for key, value in self.env.items():
            check_identifier(key, f"{at}.env")
            if "\x00" in value:
                raise InvalidValue(f"{at}.env", f"{key!r}: must not contain a NUL character")
            if len(value) > ENV_VALUE_MAX:
                raise InvalidValue(f"{at}.env", f"{key!r}: at most {ENV_VALUE_MAX} characters")
            clean(f"{at}.env", value)
        self._check_not_secret(at)
        check_unique(self.needs, f"{at}.needs", "step")
        check_step_options(self, at)
        check_step_secrets(self.secrets, self.env.keys(), at)
        check_step_files(self, at)
        check_unique(self.labels, f"{at}.labels", "label")
        for label in self.labels:
            check_pattern(
                label,
                _LABEL,
                f"{at}.labels",
                "a label (letters, digits, '_.:-') or ${{ matrix.<axis> }}",
            )
        check_condition(self.if_, f"{at}.if")
        check_matrix(self.name, self.matrix, self.max_parallel, self.labels, at)
        check_step_concurrency(self.concurrency, f"{at}.concurrency")

    def _check_not_secret(self, at: str) -> None:
        check_unique(self.not_secret, f"{at}.not_secret", "env key")
        if unknown := sorted(set(self.not_secret) - self.env.keys()):
            raise InvalidValue(f"{at}.not_secret", f"{unknown[0]!r}: not a key of this step's env")
        for key, value in self.env.items():
            if key not in self.not_secret and (kind := credential_kind(value)):
                raise InvalidValue(
                    f"{at}.env",
                    f"{key!r} looks like {kind}: a definition is kept forever in the clear, so "
                    "a credential belongs in a project secret, not in env; if it is not one, "
                    f"list {key!r} in the step's not_secret",
                )
