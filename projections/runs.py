"""The runs read model: a row per run and per step, kept from the run events.

How each event changes the rows: `projections/run_handlers.py`; the queries:
`projections/run_queries.py`.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from domain.envelope import EventEnvelope
from domain.run_statuses import RunStatus
from projections.erased_actors import ERASURE, erase_actors
from projections.rows import Upsert, ident, load, occurred_at, save_all, stored_streams
from projections.run_batch import RUN_COLUMNS, STEP_COLUMNS, RunBatch
from projections.run_handlers import HANDLERS, STEP_EVENTS, VERSION_ONLY

# No index of its own for `branch`: it is `ref` less `refs/heads/` (RunBatch.request), so
# run_queries asks the ref index for it; one index fewer to write per run.
_BY_QUEUED = ("project_id", "pipeline_id", "status", "trigger_kind", "ref", "actor")

DDL = """
CREATE TABLE {s}.runs (
    id uuid PRIMARY KEY,
    project_id uuid NOT NULL,
    pipeline_id uuid NOT NULL,
    pipeline_version integer NOT NULL,
    status text NOT NULL,
    trigger_kind text NOT NULL,
    actor text NOT NULL,
    repo text, ref text, branch text, sha text, pull_request integer,
    trigger_event text, delivery_id text,
    external_provider text, external_id text, external_url text,
    retry_of uuid,
    parameters jsonb NOT NULL,
    queued_at timestamptz NOT NULL,
    started_at timestamptz,
    finished_at timestamptz,
    duration_ms bigint,
    updated_at timestamptz NOT NULL,
    step_summary jsonb NOT NULL,
    metrics jsonb NOT NULL,
    failure_reason text, failed_step text, cancel_requested_by text, cancel_reason text,
    stream_version bigint NOT NULL
);
CREATE INDEX runs_queued ON {s}.runs (queued_at, id);
CREATE INDEX runs_updated ON {s}.runs (updated_at, id);
CREATE INDEX runs_started ON {s}.runs (started_at NULLS FIRST, id);
CREATE INDEX runs_finished ON {s}.runs (finished_at NULLS FIRST, id);
CREATE INDEX runs_duration ON {s}.runs (duration_ms NULLS FIRST, id);
CREATE INDEX runs_status_order ON {s}.runs (status, id);
CREATE INDEX runs_external ON {s}.runs (external_provider, queued_at, id)
    WHERE external_provider IS NOT NULL;
{by_queued}
CREATE TABLE {s}.steps (
    run_id uuid NOT NULL,
    name text NOT NULL,
    idx integer NOT NULL,
    needs text[] NOT NULL,
    allow_failure boolean NOT NULL,
    retries integer NOT NULL,
    timeout_s integer NOT NULL,
    status text NOT NULL,
    attempt integer NOT NULL,
    runner text, exit_code integer, reason text,
    queued_at timestamptz, started_at timestamptz, finished_at timestamptz,
    duration_ms bigint,
    outputs jsonb NOT NULL,
    metrics jsonb NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (run_id, name)
);
"""

_WAITING_SHOWN = (RunStatus.RUNNING, RunStatus.WAITING_FOR_APPROVAL)


class RunsProjection:
    name = "runs"
    version = 3
    """2: a data subject's erasure blanks the actor of its runs at once (erased_actors).
    3: no `runs_branch` index (the branch filter reads `runs_ref`)."""
    event_types = frozenset(
        {
            ERASURE,
            "RunRequested",
            "RunStarted",
            "RunSucceeded",
            "RunFailed",
            "RunTimedOut",
            "RunCancelRequested",
            "RunCancelled",
            *STEP_EVENTS,
            *VERSION_ONLY,
        }
    )

    def ddl(self, schema: str) -> str:
        s = ident(schema)
        by_queued = "\n".join(
            f"CREATE INDEX runs_{c} ON {s}.runs ({c}, queued_at, id);" for c in _BY_QUEUED
        )
        return DDL.format(s=s, by_queued=by_queued)

    async def apply(
        self, conn: asyncpg.Connection, schema: str, events: Sequence[EventEnvelope]
    ) -> None:
        await self._apply_runs(conn, schema, [e for e in events if e.type in HANDLERS])
        await erase_actors(conn, schema, events)

    async def _apply_runs(
        self, conn: asyncpg.Connection, schema: str, events: Sequence[EventEnvelope]
    ) -> None:
        if not events:
            return
        with_steps = {e.stream_id for e in events if e.type in STEP_EVENTS}
        runs = await load(conn, schema, "runs", "id", stored_streams(events, "RunRequested"))
        steps = await load(conn, schema, "steps", "run_id", with_steps)
        batch = RunBatch(
            {r["id"]: r for r in runs}, {(s["run_id"], s["name"]): s for s in steps}, with_steps
        )
        for event in events:
            data = event.data
            at = occurred_at(data)
            if event.type == "RunRequested":
                batch.request(event.stream_id, data, at)
            run = batch.runs.get(event.stream_id)
            if run is None:
                raise LookupError(f"{event.type} at {event.position}: no run {event.stream_id}")
            HANDLERS[event.type](batch, run, data, at)
            if event.type in STEP_EVENTS and run["status"] in _WAITING_SHOWN:
                run["status"] = batch.shown_status(event.stream_id)
            run["updated_at"], run["stream_version"] = at, event.version
        batch.recount()
        await save_all(
            conn,
            schema,
            Upsert("runs", batch.runs.values(), ("id",), RUN_COLUMNS),
            Upsert(
                "steps",
                (batch.steps[k] for k in sorted(batch.dirty)),
                ("run_id", "name"),
                STEP_COLUMNS,
            ),
        )
