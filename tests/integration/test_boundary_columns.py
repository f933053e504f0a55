"""The boundary and the read models, tied: each column holds every value its command accepts.

Each pair below names a command field (its limit read from the command Struct's own type,
as the bus enforces it) and a read-model column (its type read from PostgreSQL, after each
projection's DDL ran). Widen a limit past what its column holds, or narrow a column, and
this fails: the value would be accepted, kept forever, and stop the view.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec
import msgspec.inspect as mi
import pytest

from commands.api_keys import IssueApiKey
from commands.approvals import DecideApproval
from commands.artifacts import DeleteArtifact, RecordArtifact, RecordCache
from commands.context import CommandContext
from commands.environments import ConfigureEnvironment
from commands.jenkins_builds import RecordJenkinsBuild
from commands.pipelines import CreatePipeline
from commands.projects import CreateProject
from commands.run_reports import AppendRunLogs, ReportStepStatus
from commands.runners import RegisterRunner
from commands.runs import CancelRun, TriggerRun
from commands.secrets import SetSecret
from commands.webhook_deliveries import RecordDeliveryOutcome, RecordWebhookDelivery
from commands.webhook_sources import RegisterWebhookSource
from domain.limits import ACTOR_MAX, BTREE_ENTRY_MAX_BYTES, max_index_bytes
from projections.catalog import ALL
from tests.helpers import unique_id

INT_RANGES = {"smallint": 2**15, "integer": 2**31, "bigint": 2**63}
INDEX_OVERHEAD_BYTES = 64
"""Tuple header, the entry's other fixed-width columns (a timestamp, a uuid) and alignment."""

# (command, field path through the Struct's types) -> (projection, table, column)
BOUNDARY: list[tuple[type[msgspec.Struct], str, str, str, str]] = [
    (TriggerRun, "pipeline_version", "runs", "runs", "pipeline_version"),
    (TriggerRun, "pull_request", "runs", "runs", "pull_request"),
    (TriggerRun, "repo", "runs", "runs", "repo"),
    (TriggerRun, "ref", "runs", "runs", "ref"),
    (TriggerRun, "ref", "runs", "runs", "branch"),
    (TriggerRun, "sha", "runs", "runs", "sha"),
    (TriggerRun, "event", "runs", "runs", "trigger_event"),
    (TriggerRun, "delivery_id", "runs", "runs", "delivery_id"),
    (TriggerRun, "external.external_id", "runs", "runs", "external_id"),
    (TriggerRun, "external.url", "runs", "runs", "external_url"),
    (TriggerRun, "parameters", "runs", "runs", "parameters"),
    (TriggerRun, "schedule", "schedules", "fired", "key"),
    # A schedule's key is its name or its cron and zone: never longer than a run's `schedule`.
    (TriggerRun, "schedule", "schedules", "schedules", "key"),
    (CancelRun, "reason", "runs", "runs", "cancel_reason"),
    (ReportStepStatus, "step", "runs", "steps", "name"),
    (ReportStepStatus, "attempt", "runs", "steps", "attempt"),
    (ReportStepStatus, "exit_code", "runs", "steps", "exit_code"),
    (ReportStepStatus, "runner", "runs", "steps", "runner"),
    (ReportStepStatus, "reason", "runs", "steps", "reason"),
    (ReportStepStatus, "outputs", "runs", "steps", "outputs"),
    (ReportStepStatus, "metrics", "runs", "steps", "metrics"),
    (ReportStepStatus, "step", "runners", "runner_jobs", "step"),
    (ReportStepStatus, "attempt", "runners", "runner_jobs", "attempt"),
    (ReportStepStatus, "runner", "runners", "runner_jobs", "runner"),
    (CreatePipeline, "definition.steps.name", "runs", "steps", "name"),
    (CreatePipeline, "definition.steps.name", "queues", "jobs", "step"),
    (CreatePipeline, "definition.steps.labels", "queues", "jobs", "label"),
    (CreatePipeline, "definition.steps.timeout_s", "runs", "steps", "timeout_s"),
    (CreatePipeline, "definition.steps.retries", "runs", "steps", "retries"),
    (CreatePipeline, "definition.name", "pipelines", "pipelines", "name"),
    (CreatePipeline, "definition.description", "pipelines", "pipelines", "description"),
    (CreatePipeline, "definition.tags", "pipelines", "pipelines", "tags"),
    (AppendRunLogs, "chunks.seq", "logs", "logs", "seq"),
    (AppendRunLogs, "chunks.seq", "logs", "truncations", "seq"),
    (AppendRunLogs, "chunks.step", "logs", "logs", "step"),
    (AppendRunLogs, "chunks.text", "logs", "logs", "text"),
    (CreateProject, "name", "projects", "projects", "name"),
    (CreateProject, "slug", "projects", "projects", "slug"),
    (CreateProject, "description", "projects", "projects", "description"),
    (RegisterRunner, "name", "runners", "runners", "name"),
    (RegisterRunner, "host", "runners", "runners", "host"),
    (RegisterRunner, "version", "runners", "runners", "version"),
    (RegisterRunner, "concurrency", "runners", "runners", "concurrency"),
    (RegisterRunner, "labels", "runners", "runners", "labels"),
    (IssueApiKey, "name", "api_keys", "api_keys", "name"),
    (RegisterWebhookSource, "name", "webhook_sources", "webhook_sources", "name"),
    (SetSecret, "name", "secrets", "secrets", "name"),
    (SetSecret, "environment", "secrets", "secrets", "environment"),
    (RecordWebhookDelivery, "event", "webhook_deliveries", "webhook_deliveries", "event"),
    (
        RecordWebhookDelivery,
        "delivery_id",
        "webhook_deliveries",
        "webhook_deliveries",
        "delivery_id",
    ),
    (RecordDeliveryOutcome, "reason", "webhook_deliveries", "webhook_deliveries", "reason"),
    (DecideApproval, "step", "approvals", "pending_approvals", "step"),
    (CreatePipeline, "definition.steps.name", "environments", "deployments", "step"),
    (CreatePipeline, "definition.steps.environment", "environments", "deployments", "environment"),
    (ConfigureEnvironment, "name", "environments", "environments", "name"),
    (ConfigureEnvironment, "approvers", "environments", "environments", "approvers"),
    (ConfigureEnvironment, "branches", "environments", "environments", "branches"),
    (
        ConfigureEnvironment,
        "required_approvals",
        "environments",
        "environments",
        "required_approvals",
    ),
    (
        ConfigureEnvironment,
        "approval_timeout_s",
        "environments",
        "environments",
        "approval_timeout_s",
    ),
    (RecordArtifact, "step", "artifacts", "artifacts", "name"),
    (RecordArtifact, "step", "artifacts", "artifacts", "step"),
    (RecordArtifact, "attempt", "artifacts", "artifacts", "attempt"),
    (RecordArtifact, "path", "artifacts", "artifacts", "path"),
    (RecordArtifact, "size", "artifacts", "artifacts", "size"),
    (RecordArtifact, "object_key", "artifacts", "artifacts", "object_key"),
    (RecordCache, "key", "artifacts", "caches", "key"),
    (RecordCache, "branch", "artifacts", "caches", "branch"),
    (RecordCache, "object_key", "artifacts", "caches", "object_key"),
    (RecordCache, "size", "artifacts", "caches", "size"),
    (DeleteArtifact, "reason", "artifacts", "artifacts", "deleted_reason"),
    (RecordJenkinsBuild, "step", "jenkins_builds", "builds", "step"),
    (RecordJenkinsBuild, "attempt", "jenkins_builds", "builds", "attempt"),
    (RecordJenkinsBuild, "number", "jenkins_builds", "builds", "number"),
    (RecordJenkinsBuild, "url", "jenkins_builds", "builds", "url"),
]
ACTOR_COLUMNS = [("runs", "runs", "actor"), ("api_keys", "api_keys", "issued_by")]
"""Filled from the principal's name, not a command field: bounded by ACTOR_MAX."""


def _leaf(command: type[msgspec.Struct], path: str) -> Any:
    """The msgspec type at `path`, through optionals, sequences and mapping values."""
    info: Any = mi.type_info(command)
    for name in path.split("."):
        info = _unwrap(info)
        info = next(f.type for f in info.fields if f.name == name)
    return _unwrap(info)


def _unwrap(info: Any) -> Any:
    while True:
        if isinstance(info, mi.UnionType):
            info = next(t for t in info.types if not isinstance(t, mi.NoneType))
        elif isinstance(info, mi.ListType | mi.VarTupleType):
            info = info.item_type
        else:
            return info


@pytest.fixture(scope="module")
async def columns(pool: asyncpg.Pool) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Every read model's columns as its DDL makes them, with the btree indexes they are in."""
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    async with pool.acquire() as conn:
        for projection in ALL:
            schema = unique_id(f"tie_{projection.name}_").replace("-", "_")
            await conn.execute(f'CREATE SCHEMA "{schema}"')
            try:
                await conn.execute(projection.ddl(schema))
                rows = await conn.fetch(_COLUMNS, schema)
            finally:
                await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
            for row in rows:
                found[(projection.name, row["table_name"], row["column_name"])] = dict(row)
    return found


_COLUMNS = """
SELECT c.table_name, c.column_name, c.data_type, c.character_maximum_length,
       EXISTS (
           SELECT 1 FROM pg_index i
           JOIN pg_class t ON t.oid = i.indrelid
           JOIN pg_namespace n ON n.oid = t.relnamespace
           JOIN pg_class ix ON ix.oid = i.indexrelid
           JOIN pg_am am ON am.oid = ix.relam
           JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY (i.indkey)
           WHERE n.nspname = c.table_schema AND t.relname = c.table_name
             AND a.attname = c.column_name AND am.amname = 'btree'
       ) AS indexed
FROM information_schema.columns c WHERE c.table_schema = $1
"""


@pytest.mark.parametrize(
    ("command", "path", "projection", "table", "column"),
    BOUNDARY,
    ids=[f"{c.__name__}.{p}->{v}.{t}.{col}" for c, p, v, t, col in BOUNDARY],
)
async def test_the_column_holds_every_value_the_command_accepts(
    columns: dict[tuple[str, str, str], dict[str, Any]],
    command: type[msgspec.Struct],
    path: str,
    projection: str,
    table: str,
    column: str,
) -> None:
    limit = _leaf(command, path)
    sql = columns[(projection, table, column)]
    where = f"{command.__name__}.{path} -> rm_{projection}.{table}.{column} ({sql['data_type']})"
    match limit:
        case mi.IntType():
            assert sql["data_type"] in INT_RANGES, where
            bound = INT_RANGES[sql["data_type"]]
            assert limit.ge is not None and limit.le is not None, f"{where}: unbounded"
            assert -bound <= limit.ge and limit.le < bound, where
        case mi.StrType():
            assert limit.max_length is not None, f"{where}: no max_length"
            assert limit.pattern is not None, f"{where}: NUL and surrogates not excluded"
            _holds_text(sql, limit.max_length, where)
        case mi.DictType():
            # Free-form JSON: its items are bounded, and jsonb holds any such value.
            assert sql["data_type"] == "jsonb", where
            assert limit.max_length is not None, f"{where}: no item limit"
        case _:
            raise AssertionError(f"{where}: no limit to compare ({limit})")


@pytest.mark.parametrize(("projection", "table", "column"), ACTOR_COLUMNS)
async def test_the_actor_columns_hold_every_name(
    columns: dict[tuple[str, str, str], dict[str, Any]], projection: str, table: str, column: str
) -> None:
    _holds_text(columns[(projection, table, column)], ACTOR_MAX, f"{table}.{column}")


def _holds_text(sql: dict[str, Any], max_chars: int, where: str) -> None:
    assert sql["data_type"] in ("text", "character varying", "ARRAY"), where
    if sql["character_maximum_length"] is not None:
        assert max_chars <= sql["character_maximum_length"], where
    if sql["indexed"]:
        entry = max_index_bytes(max_chars) + INDEX_OVERHEAD_BYTES
        assert entry < BTREE_ENTRY_MAX_BYTES, f"{where}: an index entry may reach {entry} bytes"


def test_every_indexed_text_column_is_tied(
    columns: dict[tuple[str, str, str], dict[str, Any]],
) -> None:
    """A new indexed text column must be tied to the field that fills it (or be an enum)."""
    tied = {(p, t, c) for _, _, p, t, c in BOUNDARY} | set(ACTOR_COLUMNS)
    enums = {"status", "trigger_kind", "kind", "stream", "outcome", "external_provider"}
    loose = [
        key
        for key, sql in columns.items()
        if sql["indexed"] and sql["data_type"] == "text" and key not in tied and key[2] not in enums
    ]
    assert not loose, f"indexed text columns with no declared limit: {loose}"


def test_the_metadata_fits_the_events_tables_indexes() -> None:
    """Causation ids are indexed in `events`, idempotency keys are `idempotency_keys`' key."""
    for name in ("correlation_id", "causation_id", "traceparent", "idempotency_key"):
        limit = _leaf(CommandContext, name)
        assert limit.max_length is not None and limit.pattern is not None, name
        entry = max_index_bytes(limit.max_length) + INDEX_OVERHEAD_BYTES
        assert entry < BTREE_ENTRY_MAX_BYTES, name
