"""What a value may be, declared once: the limits every read model is built to hold.

Every accepted event is kept forever, so a value that some reader cannot store must be
refused before anything is decided on it. Command Structs and HTTP bodies are typed with the
aliases below; the command bus checks every command against its types (`commands/boundary`);
the read models' columns are chosen to hold them, and an integration test compares the two
(`tests/integration/test_boundary_columns.py`) so they cannot drift apart.

The numbers come from PostgreSQL: `integer` is int32, `bigint` int64, a btree entry must
stay under BTREE_ENTRY_MAX_BYTES, and neither `text` nor `jsonb` holds a NUL or a lone
UTF-16 surrogate (it is not UTF-8). A domain check covers what a type cannot say: the total
size and depth of a JSON value (`bounded_json`), and text built inside the domain (`clean`).
"""

from __future__ import annotations

import re
from typing import Annotated

import msgspec
from msgspec import Meta

from domain.errors import InvalidValue

INT32_MAX = 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
FLOAT_MAX = 1e308
"""Finite: JSON has no NaN or infinity, they would be stored as null and break replay."""
BTREE_ENTRY_MAX_BYTES = 2704
"""PostgreSQL refuses a btree entry past a third of an 8 KiB page (after any compression,
which random text defeats)."""
UTF8_MAX_BYTES_PER_CHAR = 4

CLEAN = r"^[^\x00\ud800-\udfff]*$"
"""No NUL (PostgreSQL text and jsonb refuse it) and no lone surrogate (not UTF-8)."""
_UNCLEAN = re.compile(r"[\x00\ud800-\udfff]")

# Lengths in characters. A text column under an index holds at most 4 bytes a character:
# REF_MAX and the names stay far enough under the btree limit with the index's other columns.
NAME_MAX = 200
"""Names shown in lists and indexed: projects, pipelines, keys, sources, actors."""
ACTOR_MAX = NAME_MAX
"""Who acted (a key's name, a webhook's sender): `runs.actor` is indexed."""
SLUG_MAX = 63
TAG_MAX = 50
GLOB_MAX = 255
KEY_MAX = 128
"""Identifiers: step and runner names, labels, parameter, output and metric keys, external ids."""
DESCRIPTION_MAX = 4000
REASON_MAX = 2000
REPO_MAX = 512
REF_MAX = 512
SHA_MAX = 128
EVENT_KIND_MAX = 200
DELIVERY_ID_MAX = 255
URL_MAX = 2000
HOST_MAX = 255
VERSION_TEXT_MAX = 100
SECRET_MAX = 256
METADATA_MAX = 512
"""Correlation and causation ids, traceparent, idempotency key: the events table indexes
causation, and an idempotency key is a primary key."""
PARAM_TEXT_MAX = 4096
OUTPUT_VALUE_MAX = 4 * 1024
ENV_VALUE_MAX = 32 * 1024
LOG_CHUNK_MAX_BYTES = 64 * 1024
LOG_CHUNK_MAX = LOG_CHUNK_MAX_BYTES
"""In characters; the domain also counts its UTF-8 bytes."""

# Counts of items.
ITEMS_MAX = 100
"""Tags, parameters, triggers, needs, labels, choices, env entries, scopes."""
STEPS_MAX = 200
CHUNKS_MAX = 1000
JOBS_MAX = 1024
MAP_MAX = 64
"""Outputs and metrics of one step attempt."""

# Free-form JSON (parameters, outputs, metrics) once encoded.
JSON_MAX_BYTES = 256 * 1024
JSON_MAX_DEPTH = 32

# Integer ranges: each fits the `integer` column that holds it.
RETRIES_MAX = 10
TIMEOUT_MAX_S = 86_400
CONCURRENCY_MAX = 256
EXIT_CODE_MAX = 255
GRACE_MAX_S = 30 * 86_400
CRON_MAX = 100
"""A cron expression: five fields or an `@hourly`-style alias."""
TIME_ZONE_MAX = 64
"""An IANA time zone name (`Europe/Berlin`)."""
SCHEDULE_KEY_MAX = CRON_MAX + 1 + TIME_ZONE_MAX
"""What names a schedule in its runs: its name, or its cron and zone."""
ARTIFACT_PATHS_MAX = 32
"""Paths or globs one step uploads as its artifact; also its downloads and cache paths."""
ARTIFACT_BYTES_MAX = 2**40
"""One artifact or cache entry: 1 TiB (a `bigint` column holds it; the runner's limit is lower)."""
RETENTION_DAYS_MAX = 400
ARTIFACTS_PER_RUN_MAX = 2000
"""Artifacts, workspaces and cache entries one run records: its stream stays readable."""


def _text(max_length: int, min_length: int = 0) -> Meta:
    return Meta(min_length=min_length, max_length=max_length, pattern=CLEAN)


Name = Annotated[str, _text(NAME_MAX, 1)]
Slug = Annotated[str, Meta(max_length=SLUG_MAX, pattern=r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")]
Description = Annotated[str, _text(DESCRIPTION_MAX)]
Reason = Annotated[str, _text(REASON_MAX)]
Key = Annotated[str, _text(KEY_MAX, 1)]
StepName = Annotated[str, Meta(max_length=100, pattern=r"^[A-Za-z0-9_.-]{1,100}$")]
Identifier = Annotated[str, Meta(max_length=100, pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")]
Keyword = Annotated[str, Meta(max_length=100, pattern=r"^[A-Za-z0-9_.:-]{1,100}$")]
"""Labels, event kinds in triggers, scopes."""
Glob = Annotated[str, _text(GLOB_MAX, 1)]
Tag = Annotated[str, _text(TAG_MAX, 1)]
Choice = Annotated[str, _text(NAME_MAX, 1)]
Repo = Annotated[str, _text(REPO_MAX)]
Ref = Annotated[str, _text(REF_MAX)]
Sha = Annotated[str, _text(SHA_MAX)]
EventKind = Annotated[str, _text(EVENT_KIND_MAX, 1)]
DeliveryId = Annotated[str, _text(DELIVERY_ID_MAX, 1)]
Url = Annotated[str, _text(URL_MAX, 1)]
Host = Annotated[str, _text(HOST_MAX, 1)]
VersionText = Annotated[str, _text(VERSION_TEXT_MAX, 1)]
Secret = Annotated[str, _text(SECRET_MAX, 1)]
MetadataText = Annotated[str, _text(METADATA_MAX)]
ShellCommand = Annotated[str, _text(LOG_CHUNK_MAX, 1)]
"""A step's `run`: the domain also caps it at 64 KiB of UTF-8."""
EnvValue = Annotated[str, _text(ENV_VALUE_MAX)]
ParamText = Annotated[str, _text(PARAM_TEXT_MAX)]
LogText = Annotated[str, _text(LOG_CHUNK_MAX, 1)]
OutputValue = Annotated[str, _text(OUTPUT_VALUE_MAX)]

Int64 = Annotated[int, Meta(ge=INT64_MIN, le=INT64_MAX)]
Positive32 = Annotated[int, Meta(ge=1, le=INT32_MAX)]
"""Versions, pull request numbers, attempts, log sequence numbers: `integer` columns."""
StreamVersion = Annotated[int, Meta(ge=0, le=INT64_MAX)]
ExitCode = Annotated[int, Meta(ge=-EXIT_CODE_MAX, le=EXIT_CODE_MAX)]
Retries = Annotated[int, Meta(ge=0, le=RETRIES_MAX)]
TimeoutS = Annotated[int, Meta(ge=1, le=TIMEOUT_MAX_S)]
Concurrency = Annotated[int, Meta(ge=1, le=CONCURRENCY_MAX)]
GraceS = Annotated[int, Meta(ge=0, le=GRACE_MAX_S)]
Finite = Annotated[float, Meta(ge=-FLOAT_MAX, le=FLOAT_MAX)]
Measure = Annotated[float, Meta(ge=0, le=FLOAT_MAX)]
"""A metric: durations, tokens, cost; never negative."""
ByteCount = Annotated[int, Meta(ge=0, le=ARTIFACT_BYTES_MAX)]
RetentionDays = Annotated[int, Meta(ge=1, le=RETENTION_DAYS_MAX)]
Sha256Hex = Annotated[str, Meta(pattern=r"^[0-9a-f]{64}$")]
ObjectKey = Annotated[str, _text(REF_MAX, 1)]
"""Where an artifact or cache entry lies in the object store."""
MaybeObjectKey = Annotated[str, _text(REF_MAX)]
"""An object key, or "" where there is none (a cache miss, a tar's path)."""
MaybeSha256Hex = Annotated[str, Meta(pattern=r"^(?:[0-9a-f]{64})?$")]
ParamScalar = ParamText | Int64 | Finite | bool
CronText = Annotated[str, Meta(max_length=CRON_MAX, pattern=r"^[ -~]*$")]
ScheduleKey = Annotated[str, _text(SCHEDULE_KEY_MAX, 1)]
ScheduleName = Annotated[str, Meta(max_length=100, pattern=r"^[A-Za-z0-9_.:-]{0,100}$")]
"""A schedule's name: empty (named by its cron and zone), or a keyword."""
TimeZoneName = Annotated[
    str, Meta(min_length=1, max_length=TIME_ZONE_MAX, pattern=r"^[A-Za-z0-9_+/-]+$")
]
Outputs = Annotated[dict[Key, OutputValue], Meta(max_length=MAP_MAX)]
Metrics = Annotated[dict[Key, Measure], Meta(max_length=MAP_MAX)]
"""A run parameter's value (bool before int would not matter: msgspec keeps JSON types)."""


def clean(field: str, value: str) -> str:
    """`value`, or InvalidValue if it holds a NUL or a lone surrogate (no column takes those)."""
    if not _is_clean(value):
        raise InvalidValue(field, "must be valid UTF-8 text without NUL characters")
    return value


def cut(value: str, limit: int) -> str:
    """Text meant for people, made storable: NUL and lone surrogates become U+FFFD, and past
    `limit` characters it ends in "…" (the marker that something was cut)."""
    if not _is_clean(value):
        value = _UNCLEAN.sub("\ufffd", value)
    return value if len(value) <= limit else value[: limit - 1] + "\u2026"


def _is_clean(value: str) -> bool:
    """No NUL and no lone surrogate. An ASCII string (most are; CPython knows it without a scan)
    holds no surrogate, so a search for NUL says it: a regex search costs a per-call setup
    that several checks of every run a push starts paid in full."""
    if value.isascii():
        return "\x00" not in value
    return _UNCLEAN.search(value) is None


def bounded_json(
    field: str, value: object, *, max_bytes: int = JSON_MAX_BYTES, max_depth: int = JSON_MAX_DEPTH
) -> None:
    """InvalidValue unless `value` is JSON a `jsonb` column holds: clean text, finite
    numbers within int64, at most `max_depth` levels and `max_bytes` once encoded."""
    # Iterative: a value nested past Python's recursion limit must be refused, not crash.
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > max_depth:
            raise InvalidValue(field, f"nested deeper than {max_depth} levels")
        if isinstance(item, str):
            clean(field, item)
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if not INT64_MIN <= item <= INT64_MAX:
                raise InvalidValue(field, "integers must fit in 64 bits")
        elif isinstance(item, float):
            if not -FLOAT_MAX <= item <= FLOAT_MAX:
                raise InvalidValue(field, "numbers must be finite")
        elif isinstance(item, dict):
            for key, inner in item.items():
                if not isinstance(key, str):
                    raise InvalidValue(field, "object keys must be text")
                clean(field, key)
                stack.append((inner, depth + 1))
        elif isinstance(item, list | tuple):
            stack.extend((inner, depth + 1) for inner in item)
        else:
            raise InvalidValue(field, f"{type(item).__name__} is not JSON")
    if len(msgspec.json.encode(value)) > max_bytes:
        raise InvalidValue(field, f"at most {max_bytes} bytes of JSON")


def max_index_bytes(max_chars: int) -> int:
    """The most bytes a text of `max_chars` characters takes in UTF-8 (in an index entry)."""
    return max_chars * UTF8_MAX_BYTES_PER_CHAR


SECRET_VALUE_MAX = 32 * 1024
"""A project secret's value, in characters; it never reaches an event (only its fingerprint)."""
ENVIRONMENT_MAX = 64
SecretName = Annotated[str, Meta(max_length=100, pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")]
"""A project secret's name: what a step exports it as, so an environment variable's name."""
EnvironmentName = Annotated[
    str, Meta(max_length=ENVIRONMENT_MAX, pattern=r"^[A-Za-z0-9_.-]{1,64}$")
]
SecretValue = Annotated[str, Meta(min_length=1, max_length=SECRET_VALUE_MAX, pattern=CLEAN)]

# Orchestration: conditions, matrices, concurrency groups (issue 19).
CONDITION_MAX = 1000
"""Characters in a step's `if:` (it is quoted whole in the reason of a skip)."""
MATRIX_AXES_MAX = 8
MATRIX_VALUES_MAX = 32
"""Values of one axis, and entries of `include` or `exclude`."""
MATRIX_INSTANCES_MAX = 64
"""Instances one matrix step expands into (after include and exclude)."""
MATRIX_VALUE_MAX = 64
"""Characters of one matrix value as text (it becomes part of an instance's name)."""
CONCURRENCY_GROUP_MAX = 200
"""Characters of a concurrency group key, as written and once rendered."""
Condition = Annotated[str, _text(CONDITION_MAX)]
MatrixText = Annotated[str, _text(MATRIX_VALUE_MAX)]
MatrixScalar = MatrixText | Int64 | Finite | bool
GroupTemplate = Annotated[str, _text(CONCURRENCY_GROUP_MAX, 1)]
PLAN_STEPS_MAX = 512
"""Steps of one run's plan once every matrix is expanded."""
