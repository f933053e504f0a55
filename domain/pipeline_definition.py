"""A pipeline's definition as value objects: steps, parameters, triggers, and their rules."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping, Set
from functools import lru_cache
from typing import Annotated, Literal, assert_never, get_args

import msgspec
from msgspec import Meta

from domain.approval_spec import Decision, StepKind, check_approval_fields
from domain.concurrency_spec import ConcurrencySpec, check_step_concurrency
from domain.conditions import check_condition, check_references
from domain.credentials import credential_kind
from domain.errors import InvalidValue
from domain.jenkins_spec import JenkinsSpec, check_jenkins_fields
from domain.limits import (
    ARTIFACT_PATHS_MAX,
    DESCRIPTION_MAX,
    ENV_VALUE_MAX,
    GLOB_MAX,
    INT64_MAX,
    INT64_MIN,
    ITEMS_MAX,
    LOG_CHUNK_MAX,
    MATRIX_AXES_MAX,
    MATRIX_INSTANCES_MAX,
    NAME_MAX,
    PARAM_TEXT_MAX,
    RETRIES_MAX,
    STEPS_MAX,
    TAG_MAX,
    TIMEOUT_MAX_S,
    Choice,
    Condition,
    CronText,
    Description,
    EnvironmentName,
    EnvValue,
    Glob,
    Identifier,
    Key,
    Keyword,
    MatrixScalar,
    Name,
    ParamScalar,
    RetentionDays,
    Retries,
    ScheduleName,
    SecretName,
    StepName,
    Tag,
    TimeoutS,
    TimeZoneName,
    clean,
)
from domain.matrix import check_matrix, check_plan_size
from domain.pipeline_file import RepositoryFileSpec
from domain.step_files import (
    CacheSpec,
    Paths,
    WorkspaceMode,
    check_downloads,
    check_step_files,
)
from domain.step_options import CheckoutSpec, check_step_options, check_templates
from domain.step_secrets import check_step_secrets
from domain.trigger_schedule import check_schedule_fields, check_schedules

ParameterType = Literal["string", "integer", "number", "boolean", "choice"]
TriggerSource = Literal["github", "gitlab", "jenkins", "generic", "schedule", "manual", "api"]
ParameterValue = str | int | float | bool
CatchUp = Literal["skip", "last"]

RUN_MAX_BYTES = 64 * 1024
Items = Meta(max_length=ITEMS_MAX)
Label = Annotated[
    str,
    Meta(
        max_length=100,
        pattern=r"^(?:[A-Za-z0-9_.:-]{1,100}|\$\{\{ *matrix\.[A-Za-z_][A-Za-z0-9_]* *\}\})$",
    ),
]
"""A runner label, or `${{ matrix.<axis> }}` for a matrix step's own value."""
MatrixEntry = MatrixScalar | dict[Identifier, MatrixScalar]
EVENT_KINDS = {
    "push": "commits pushed to a branch: GitHub `push` to refs/heads/*, GitLab Push Hook",
    "tag_push": "a tag pushed: GitHub `push` to refs/tags/*, GitLab Tag Push Hook",
    "pull_request": "a pull/merge request opened, reopened or given new commits: GitHub "
    "`pull_request` (opened, synchronize, reopened); also matches GitLab merge requests",
    "merge_request": "GitLab Merge Request Hook (open, reopen, update with new commits); also "
    "matches GitHub pull requests",
    "workflow_run": "GitHub `workflow_run` / `workflow_job`: mirrors a GitHub Actions run",
    "pipeline": "GitLab Pipeline Hook / Job Hook: mirrors a GitLab CI pipeline",
    "build": "a Jenkins notification (every phase): mirrors a Jenkins build",
}
"""The words `TriggerSpec.events` takes for github, gitlab and jenkins sources (a generic
source names its own kinds in each delivery's `type`); the OpenAPI shows them as an enum."""

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
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")
_KEYWORD = re.compile(r"[A-Za-z0-9_.:-]{1,100}")
_LABEL = re.compile(r"[A-Za-z0-9_.:-]{1,100}|\$\{\{ *matrix\.[A-Za-z_][A-Za-z0-9_]* *\}\}")
_IDENTIFIER_RULE = "a letter or '_', then letters, digits or '_' (1-100)"
# As in fnmatch, `[!...]` negates a set and a `]` first in a set is literal.
_GLOB_TOKEN = re.compile(r"\*\*/|\*\*|\*|\?|\[!?\]?[^\]]*\]|.", re.DOTALL)
_PARAMETER_KIND = {
    "string": "a string",
    "integer": "an integer",
    "number": "a finite number",
    "boolean": "a boolean",
    "choice": "a string",
}


class _Value(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    # msgspec inherits `frozen` and `forbid_unknown_fields`, not `kw_only`: each class sets it.
    pass


class StepSpec(_Value, kw_only=True):
    """One step: a shell command run on a runner with one of `labels`, after the steps it needs.

    A step of kind `approval` runs nothing: it waits for a person's decision (see
    `domain.approval_spec`); `timeout_s` is then how long it waits before `on_timeout`.
    """

    name: StepName
    run: Annotated[str, Meta(max_length=LOG_CHUNK_MAX)] = ""
    timeout_s: TimeoutS = 3600
    retries: Retries = 0
    env: Annotated[dict[Identifier, EnvValue], Items] = {}
    not_secret: Annotated[tuple[Identifier, ...], Items] = ()
    """`env` keys whose values only look like credentials (a public key id): kept as written."""
    needs: Annotated[tuple[StepName, ...], Meta(max_length=STEPS_MAX)] = ()
    allow_failure: bool = False
    labels: Annotated[tuple[Label, ...], Items] = ("linux",)
    kind: StepKind = "run"
    prompt: Description = ""
    """An approval step's question to its approvers."""
    inputs: Annotated[tuple[ParameterSpec, ...], Items] = ()
    """An approval step's typed fields; the values given become its outputs."""
    approvers: Annotated[tuple[Key, ...], Items] = ()
    """Who may decide (`key:<id>`, `jwt:<subject>`); empty: any holder of the approve scope."""
    on_timeout: Decision = "reject"
    environment: EnvironmentName | None = None
    """The project environment the step deploys to: its protection rules hold the step."""
    checkout: bool | CheckoutSpec = False
    """Clone the run's repository at its sha into the working folder before `run`."""
    queue_timeout_s: TimeoutS | None = None
    """Fail the step (`no_runner`) if no runner starts it this long after it is queued."""
    secrets: Annotated[tuple[SecretName, ...], Items] = ()
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
        dict[Identifier, Annotated[tuple[MatrixEntry, ...], Items]],
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
        _matches(self.name, _STEP_NAME, f"{at}.name", "1-100 letters, digits, '_', '.' or '-'")
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
        _int_in(self.timeout_s, 1, TIMEOUT_MAX_S, f"{at}.timeout_s")
        _int_in(self.retries, 0, RETRIES_MAX, f"{at}.retries")
        for key, value in self.env.items():
            _matches(key, _IDENTIFIER, f"{at}.env", _IDENTIFIER_RULE)
            if "\x00" in value:
                raise InvalidValue(f"{at}.env", f"{key!r}: must not contain a NUL character")
            if len(value) > ENV_VALUE_MAX:
                raise InvalidValue(f"{at}.env", f"{key!r}: at most {ENV_VALUE_MAX} characters")
            clean(f"{at}.env", value)
        self._check_not_secret(at)
        _unique(self.needs, f"{at}.needs", "step")
        check_step_options(self, at)
        check_step_secrets(self.secrets, self.env.keys(), at)
        check_step_files(self, at)
        _unique(self.labels, f"{at}.labels", "label")
        for label in self.labels:
            _matches(
                label,
                _LABEL,
                f"{at}.labels",
                "a label (letters, digits, '_.:-') or ${{ matrix.<axis> }}",
            )
        check_condition(self.if_, f"{at}.if")
        check_matrix(self.name, self.matrix, self.max_parallel, self.labels, at)
        check_step_concurrency(self.concurrency, f"{at}.concurrency")

    def _check_not_secret(self, at: str) -> None:
        _unique(self.not_secret, f"{at}.not_secret", "env key")
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


class ParameterSpec(_Value, kw_only=True):
    """A run parameter: its type, default, whether a run must give it, and the allowed choices."""

    name: Identifier
    type: ParameterType = "string"
    default: ParamScalar | None = None
    required: bool = False
    choices: Annotated[tuple[Choice, ...], Items] = ()
    description: Description = ""

    def check(self, at: str) -> None:
        """Raise InvalidValue, under the field path `at`, for the first rule it breaks."""
        _matches(self.name, _IDENTIFIER, f"{at}.name", _IDENTIFIER_RULE)
        if self.type not in _PARAMETER_KIND:
            raise InvalidValue(f"{at}.type", f"must be one of {', '.join(_PARAMETER_KIND)}")
        _text(self.description, f"{at}.description", DESCRIPTION_MAX, blank=True)
        if self.type == "choice":
            if not self.choices:
                raise InvalidValue(f"{at}.choices", "a choice parameter needs choices")
            _unique(self.choices, f"{at}.choices", "choice")
            for choice in self.choices:
                _text(choice, f"{at}.choices", NAME_MAX)
        elif self.choices:
            raise InvalidValue(f"{at}.choices", "only a choice parameter has choices")
        if self.default is not None:
            # A default would make `required` meaningless: no run could ever omit it.
            if self.required:
                raise InvalidValue(f"{at}.default", "a required parameter has no default")
            self.accept(self.default, f"{at}.default")

    def accept(self, value: object, at: str) -> ParameterValue:
        """`value` if it is of this parameter's type; text is never parsed (`"3"` is no integer)."""
        match self.type:
            case "string" | "choice":
                ok = isinstance(value, str)
            case "integer":
                ok = isinstance(value, int) and not isinstance(value, bool)
            case "number":
                ok = not isinstance(value, bool) and (
                    isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))
                )
            case "boolean":
                ok = isinstance(value, bool)
            case _:
                assert_never(self.type)
        if not ok:
            raise InvalidValue(at, f"must be {_PARAMETER_KIND[self.type]}")
        if isinstance(value, str):
            _text(value, at, PARAM_TEXT_MAX, blank=True)
        elif isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
            raise InvalidValue(at, "must fit in 64 bits")
        if self.type == "choice" and value not in self.choices:
            raise InvalidValue(at, f"must be one of {', '.join(self.choices)}")
        return value  # type: ignore[return-value]  # narrowed by `ok` above


class TriggerSpec(_Value, kw_only=True):
    """Which deliveries start the pipeline: a source, event kinds and ref globs (empty: any).

    As in GitHub Actions, `events: ["push"]` with `tags` also runs for pushed tags that match
    them (a tag push is the kind `tag_push`; a `push` trigger without `tags` never sees one).
    """

    source: TriggerSource
    events: Annotated[tuple[Keyword, ...], Items] = ()
    branches: Annotated[tuple[Glob, ...], Items] = ()
    tags: Annotated[tuple[Glob, ...], Items] = ()
    cron: CronText = ""
    """A `schedule` trigger's cron expression: five fields, or `@hourly`, `@daily`, ..."""
    timezone: TimeZoneName = "UTC"
    """The IANA zone the cron expression is read in (`Europe/Berlin`): DST is followed."""
    parameters: Annotated[dict[Identifier, ParamScalar], Items] = {}
    """The parameters a scheduled run is given."""
    active: bool = True
    """A schedule that is not active never fires."""
    catch_up: CatchUp = "skip"
    """After downtime: `skip` the missed slots, or run the `last` one of them."""
    schedule: ScheduleName = ""
    """The schedule's name, part of each fired run's identity; empty: its cron and zone."""

    def check(self, at: str) -> None:
        """Raise InvalidValue, under the field path `at`, for the first rule it breaks."""
        if self.source not in get_args(TriggerSource):
            raise InvalidValue(
                f"{at}.source", f"must be one of {', '.join(get_args(TriggerSource))}"
            )
        check_schedule_fields(self, at)
        _keywords(self.events, f"{at}.events", "event kind")
        for field, patterns in (("branches", self.branches), ("tags", self.tags)):
            _unique(patterns, f"{at}.{field}", "pattern")
            for pattern in patterns:
                _check_glob(pattern, f"{at}.{field}")

    def matches(self, source: str, event: str, ref: str | None) -> bool:
        """Whether a delivery of kind `event` from `source` on `ref` starts the pipeline.

        `ref` is `refs/heads/<branch>` or `refs/tags/<tag>` (for a pull request, the branch
        it targets). Globs match the short name: `*` and `?` stay within a `/` segment, `**`
        crosses segments. With neither branches nor tags any ref (or none) matches; with only
        one of them, a ref of the other kind never does, as in GitHub Actions: a trigger on
        tags `v*` ignores pushes to branches.
        """
        kinds = self.events
        if "push" in kinds and self.tags:
            kinds = (*kinds, "tag_push")  # GitHub's `on: push: tags:` is how tags are asked for
        if source != self.source or (kinds and event not in kinds):
            return False
        if not (self.branches or self.tags):
            return True
        for prefix, patterns in (("refs/heads/", self.branches), ("refs/tags/", self.tags)):
            if ref is not None and ref.startswith(prefix):
                name = ref.removeprefix(prefix)
                return any(_glob(p).fullmatch(name) for p in patterns)
        return False


class PipelineDefinition(_Value, kw_only=True):
    """One version of a pipeline: its steps (a DAG over `needs`), parameters and triggers.

    Sequential by default: when no step declares `needs`, each step needs the one before it
    (see `effective_needs`). Once any step declares `needs`, they are taken as written and a
    step without `needs` may start at once.
    """

    name: Name
    description: Description = ""
    tags: Annotated[tuple[Tag, ...], Items] = ()
    parameters: Annotated[tuple[ParameterSpec, ...], Items] = ()
    steps: Annotated[tuple[StepSpec, ...], Meta(max_length=STEPS_MAX)]
    triggers: Annotated[tuple[TriggerSpec, ...], Items] = ()
    concurrency: ConcurrencySpec | None = None
    """One run of the group at a time (`domain/concurrency_spec.py`)."""
    step_statuses: bool = False
    """Besides the run's, report each step to the commit as its own status (or check run),
    named `flowledger/<pipeline>/<step>`."""
    repository_file: RepositoryFileSpec | None = None
    """A pipeline file in the repository: a push reads it at the pushed sha and its run uses
    the version it defines (`domain/pipeline_file.py`)."""

    def validated(self) -> PipelineDefinition:
        """This definition, name and description trimmed; or InvalidValue naming a broken rule."""
        name, description = self.name.strip(), self.description.strip()
        _text(name, "name", NAME_MAX)
        _text(description, "description", DESCRIPTION_MAX, blank=True)
        _unique(self.tags, "tags", "tag")
        for i, tag in enumerate(self.tags):
            if tag != tag.strip():
                raise InvalidValue(f"tags[{i}]", "must not start or end with a space")
            _text(tag, f"tags[{i}]", TAG_MAX)
        if not 1 <= len(self.steps) <= STEPS_MAX:
            raise InvalidValue("steps", f"must have 1 to {STEPS_MAX} steps")
        for i, step in enumerate(self.steps):
            step.check(f"steps[{i}]")
        _unique_names(self.steps, "steps", "step")
        self._check_needs()
        check_downloads(self.steps, self._graph())
        conditions = ((i, step.name, step.if_) for i, step in enumerate(self.steps))
        check_references(conditions, self.effective_needs)
        check_plan_size([step.matrix for step in self.steps])
        if self.concurrency is not None:
            self.concurrency.check("concurrency")
        for i, parameter in enumerate(self.parameters):
            parameter.check(f"parameters[{i}]")
        _unique_names(self.parameters, "parameters", "parameter")
        check_templates(self)
        for i, trigger in enumerate(self.triggers):
            trigger.check(f"triggers[{i}]")
        check_schedules(self.triggers, self.resolve_parameters)
        if self.repository_file is not None:
            self.repository_file.check("repository_file")
        return msgspec.structs.replace(self, name=name, description=description)

    @property
    def sequential(self) -> bool:
        """True when no step declares `needs`, so the steps run one after another."""
        return not any(step.needs for step in self.steps)

    def effective_needs(self, step: str) -> tuple[str, ...]:
        """The steps `step` waits for: its `needs`, or the previous step when sequential."""
        graph = self._graph()
        if step not in graph:
            raise InvalidValue("step", f"unknown step {step!r}")
        return graph[step]

    def ready_steps(self, done: Set[str]) -> tuple[str, ...]:
        """Steps not in `done` whose effective needs are all in it, in declaration order.

        `done` holds the steps whose dependents may go on; the caller leaves out the ready
        steps it has already started.
        """
        graph = self._graph()
        if unknown := sorted(done - graph.keys()):
            raise InvalidValue("done", f"unknown step {unknown[0]!r}")
        return tuple(_ready(graph, done))

    def topological_order(self) -> tuple[str, ...]:
        """Every step after the steps it needs; among steps free at once, declaration order."""
        graph = self._graph()
        done: dict[str, None] = {}
        while len(done) < len(graph):
            # Never exhausted on a validated definition: its needs graph has no cycle.
            done[next(_ready(graph, done.keys()))] = None
        return tuple(done)

    def resolve_parameters(self, given: Mapping[str, object]) -> dict[str, ParameterValue]:
        """A run's parameters: `given` checked strictly against their types, plus defaults.

        An unknown name, a missing required parameter or a value of the wrong type is an
        InvalidValue at `parameters.<name>`. An optional parameter with no default and no
        value is left out.
        """
        known = {parameter.name: parameter for parameter in self.parameters}
        for name in given:
            if name not in known:
                raise InvalidValue(f"parameters.{name}", "unknown parameter")
        resolved: dict[str, ParameterValue] = {}
        for name, parameter in known.items():
            if name in given:
                resolved[name] = parameter.accept(given[name], f"parameters.{name}")
            elif parameter.default is not None:
                resolved[name] = parameter.default
            elif parameter.required:
                raise InvalidValue(f"parameters.{name}", "required")
        return resolved

    def _graph(self) -> dict[str, tuple[str, ...]]:
        """Each step's effective needs, in declaration order."""
        if not self.sequential:
            return {step.name: step.needs for step in self.steps}
        names = [step.name for step in self.steps]
        return {name: tuple(names[i - 1 : i]) for i, name in enumerate(names)}

    def _check_needs(self) -> None:
        names = {step.name for step in self.steps}
        for i, step in enumerate(self.steps):
            for need in step.needs:
                if need == step.name:
                    raise InvalidValue(f"steps[{i}].needs", f"{need!r} cannot need itself")
                if need not in names:
                    raise InvalidValue(f"steps[{i}].needs", f"unknown step {need!r}")
        if cycle := _find_cycle({step.name: step.needs for step in self.steps}):
            at = next(i for i, step in enumerate(self.steps) if step.name == cycle[0])
            raise InvalidValue(f"steps[{at}].needs", f"cycle: {' -> '.join(cycle)}")


def _find_cycle(needs: dict[str, tuple[str, ...]]) -> list[str] | None:
    """A cycle as `[a, b, ..., a]` (a needs b ...), found depth-first in declaration order."""
    finished: set[str] = set()
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        path.append(name)
        for need in needs[name]:
            if need in path:
                return [*path[path.index(need) :], need]
            if need not in finished and (cycle := visit(need)):
                return cycle
        path.pop()
        finished.add(name)
        return None

    for name in needs:
        if name not in finished and (cycle := visit(name)):
            return cycle
    return None


def _ready(graph: dict[str, tuple[str, ...]], done: Set[str]) -> Iterator[str]:
    for name, needs in graph.items():
        if name not in done and all(need in done for need in needs):
            yield name


@lru_cache(maxsize=1024)
def _glob(pattern: str) -> re.Pattern[str]:
    """`pattern` as a regex: `*`, `?` and `[...]` stay within a segment; `**` crosses `/`."""
    out = []
    for token in _GLOB_TOKEN.findall(pattern):
        match token:
            case "**/":
                out.append("(?:.*/)?")
            case "**":
                out.append(".*")
            case "*":
                out.append("[^/]*")
            case "?":
                out.append("[^/]")
            case "[":
                raise ValueError("'[' is never closed")
            case _ if len(token) > 1:
                negated = token.startswith("[!")
                body = "".join(c if c == "-" else re.escape(c) for c in token[1 + negated : -1])
                out.append(f"[^/{body}]" if negated else f"[{body}]")
            case _:
                out.append(re.escape(token))
    return re.compile("".join(out))


def _check_glob(pattern: str, field: str) -> None:
    if not pattern or len(pattern) > GLOB_MAX or any(c.isspace() for c in pattern):
        raise InvalidValue(field, f"{pattern!r}: must be 1-{GLOB_MAX} characters without spaces")
    if pattern.startswith("refs/"):
        raise InvalidValue(field, f"{pattern!r}: match the short name (main), not refs/heads/main")
    try:
        _glob(pattern)
    except (ValueError, re.error) as e:
        raise InvalidValue(field, f"{pattern!r}: {e}") from None


def _text(value: str, field: str, max_len: int, *, blank: bool = False) -> None:
    clean(field, value)
    if not blank and not value.strip():
        raise InvalidValue(field, "must not be blank")
    if len(value) > max_len:
        raise InvalidValue(field, f"at most {max_len} characters")


def _matches(value: str, pattern: re.Pattern[str], field: str, rule: str) -> None:
    if not pattern.fullmatch(value):
        raise InvalidValue(field, f"{value!r}: must be {rule}")


def _int_in(value: int, low: int, high: int, field: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidValue(field, f"must be an integer from {low} to {high}")


def _unique(values: Iterable[str], field: str, what: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise InvalidValue(field, f"{what} {value!r} is listed twice")
        seen.add(value)


def _unique_names(
    items: tuple[StepSpec, ...] | tuple[ParameterSpec, ...], field: str, what: str
) -> None:
    seen: set[str] = set()
    for i, item in enumerate(items):
        if item.name in seen:
            raise InvalidValue(f"{field}[{i}].name", f"duplicate {what} name {item.name!r}")
        seen.add(item.name)


def _keywords(values: tuple[str, ...], field: str, what: str) -> None:
    _unique(values, field, what)
    for value in values:
        _matches(value, _KEYWORD, field, "1-100 letters, digits, '_', '.', ':' or '-'")
