"""The runs read model: a row per run and per step, and the queries that list and show them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from domain.envelope import EventEnvelope
from domain.run_values import RunStatus, StepStatus
from projections.degraded import stream_degraded, table_columns, with_degraded
from projections.erased_actors import ERASURE, erase_actors
from projections.filters import RunFilters
from projections.paging import Page, PageQuery, PageResult, SortKey, Where, fetch_page, page_query
from projections.rows import Row, ident, load, ms_between, occurred_at, save
from projections.run_rows import RunDetail, RunRow, StepRow

RUN_COLUMNS = table_columns(RunRow)
STEP_COLUMNS = StepRow.__struct_fields__
_BY_QUEUED = ("project_id", "pipeline_id", "status", "trigger_kind", "branch", "ref", "actor")

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

_STEP_EVENTS = frozenset(
    {
        "StepQueued",
        "StepStarted",
        "StepSucceeded",
        "StepFailed",
        "StepTimedOut",
        "StepSkipped",
        "StepCancelled",
        "StepCarriedOver",
        "StepWaitingForRunner",
        "ApprovalRequested",
        "ApprovalDecided",
    }
)
_VERSION_ONLY = frozenset({"RunRetried", "StepCheckedOut"})
"""Events the view shows nothing of but its stream version (the audit timeline tells them)."""
_WAITING_SHOWN = (RunStatus.RUNNING, RunStatus.WAITING_FOR_APPROVAL)


class RunsProjection:
    name = "runs"
    version = 2
    """2: a data subject's erasure blanks the actor of its runs at once (erased_actors)."""
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
            *_STEP_EVENTS,
            *_VERSION_ONLY,
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
        await self._apply_runs(conn, schema, [e for e in events if e.type in _HANDLERS])
        await erase_actors(conn, schema, events)

    async def _apply_runs(
        self, conn: asyncpg.Connection, schema: str, events: Sequence[EventEnvelope]
    ) -> None:
        if not events:
            return
        touched = {e.stream_id for e in events}
        with_steps = {e.stream_id for e in events if e.type in _STEP_EVENTS}
        runs = await load(conn, schema, "runs", "id", touched)
        steps = await load(conn, schema, "steps", "run_id", with_steps)
        batch = _Batch(
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
            _HANDLERS[event.type](batch, run, data, at)
            if event.type in _STEP_EVENTS and run["status"] in _WAITING_SHOWN:
                run["status"] = batch.shown_status(event.stream_id)
            run["updated_at"], run["stream_version"] = at, event.version
        batch.recount()
        await save(conn, schema, "runs", batch.runs.values(), key=("id",), columns=RUN_COLUMNS)
        await save(
            conn,
            schema,
            "steps",
            (batch.steps[k] for k in sorted(batch.dirty)),
            key=("run_id", "name"),
            columns=STEP_COLUMNS,
        )


class _Batch:
    """The rows a batch touches, changed in event order, then saved at once."""

    def __init__(
        self, runs: dict[str, Row], steps: dict[tuple[str, str], Row], with_steps: set[str]
    ) -> None:
        self.runs = runs
        self.steps = steps
        self.dirty: set[tuple[str, str]] = set()
        self.counted = set(with_steps)
        """The runs whose steps are all in `steps`: their summaries are recounted."""

    def request(self, run_id: str, d: dict[str, Any], at: str) -> None:
        trigger, external = d["trigger"], d["external"] or {}
        ref = trigger.get("ref")
        branch = ref.removeprefix("refs/heads/") if ref and ref.startswith("refs/heads/") else None
        self.counted.add(run_id)
        self.runs[run_id] = {
            **dict.fromkeys(RUN_COLUMNS),
            "id": run_id,
            "project_id": d["project_id"],
            "pipeline_id": d["pipeline_id"],
            "pipeline_version": d["pipeline_version"],
            "status": RunStatus.QUEUED,
            "trigger_kind": trigger["kind"],
            "actor": trigger["actor"],
            "repo": trigger.get("repo"),
            "ref": ref,
            "branch": branch,
            "sha": trigger.get("sha"),
            "pull_request": trigger.get("pull_request"),
            "trigger_event": trigger.get("event"),
            "delivery_id": trigger.get("delivery_id"),
            "external_provider": external.get("provider"),
            "external_id": external.get("external_id"),
            "external_url": external.get("url"),
            "retry_of": d["retry_of"],
            "parameters": d["parameters"],
            "queued_at": at,
            "updated_at": at,
            "step_summary": {},
            "metrics": {},
            "stream_version": 1,
        }
        for idx, plan in enumerate(d["steps"]):
            key = (run_id, plan["name"])
            self.steps[key] = {
                "run_id": run_id,
                "name": plan["name"],
                "idx": idx,
                "needs": plan["needs"],
                "allow_failure": plan["allow_failure"],
                "retries": plan["retries"],
                "timeout_s": plan["timeout_s"],
                **_fresh_attempt(StepStatus.PENDING, 0, None),
                "updated_at": at,
            }
            self.dirty.add(key)

    def step(self, run: Row, d: dict[str, Any], at: str, **changes: Any) -> Row:
        key = (run["id"], d["step"])
        step = self.steps[key]
        step.update(changes, updated_at=at)
        self.dirty.add(key)
        return step

    def shown_status(self, run_id: str) -> RunStatus:
        """A running run is shown waiting for approval while one of its steps waits."""
        waiting = any(
            step["status"] == StepStatus.WAITING_FOR_APPROVAL
            for (owner, _), step in self.steps.items()
            if owner == run_id
        )
        return RunStatus.WAITING_FOR_APPROVAL if waiting else RunStatus.RUNNING

    def recount(self) -> None:
        """The step summary of each run whose steps changed, counted afresh from its steps."""
        counts = {run_id: dict.fromkeys(StepStatus, 0) for run_id in self.counted}
        for (run_id, _), step in self.steps.items():
            counts[run_id][step["status"]] += 1
        for run_id, summary in counts.items():
            self.runs[run_id]["step_summary"] = {str(k): v for k, v in summary.items()}


def _fresh_attempt(status: StepStatus, attempt: int, queued_at: str | None) -> Row:
    return {
        "status": status,
        "attempt": attempt,
        "runner": None,
        "exit_code": None,
        "reason": None,
        "queued_at": queued_at,
        "started_at": None,
        "finished_at": None,
        "duration_ms": None,
        "outputs": {},
        "metrics": {},
    }


def _finish(status: RunStatus) -> Callable[[_Batch, Row, dict[str, Any], str], None]:
    def finish(batch: _Batch, run: Row, d: dict[str, Any], at: str) -> None:
        run.update(status=status, finished_at=at, duration_ms=ms_between(run["started_at"], at))
        if status is RunStatus.FAILED:
            run.update(failure_reason=d["reason"], failed_step=d["step"])

    return finish


def _end_attempt(status: StepStatus) -> Callable[[_Batch, Row, dict[str, Any], str], None]:
    def end(batch: _Batch, run: Row, d: dict[str, Any], at: str) -> None:
        batch.step(
            run,
            d,
            at,
            status=status,
            exit_code=d.get("exit_code"),
            reason=d.get("reason") or _timed_out_reason(d),
            finished_at=at,
            duration_ms=d["duration_ms"],
            outputs=d["outputs"],
            metrics=d["metrics"],
        )
        # Summed one by one, in event order: the same floats however the batches fall.
        totals = run["metrics"]
        for key, value in d["metrics"].items():
            totals[key] = totals.get(key, 0.0) + value

    return end


def _timed_out_reason(d: dict[str, Any]) -> str | None:
    return f"timed out after {d['timeout_s']}s" if "timeout_s" in d else None


def _close(status: StepStatus) -> Callable[[_Batch, Row, dict[str, Any], str], None]:
    def close(batch: _Batch, run: Row, d: dict[str, Any], at: str) -> None:
        batch.step(run, d, at, status=status, reason=d["reason"], finished_at=at)

    return close


_HANDLERS: dict[str, Callable[[_Batch, Row, dict[str, Any], str], None]] = {
    "RunRequested": lambda batch, run, d, at: None,
    **dict.fromkeys(_VERSION_ONLY, lambda batch, run, d, at: None),
    "RunStarted": lambda batch, run, d, at: run.update(status=RunStatus.RUNNING, started_at=at),
    "RunCancelRequested": lambda batch, run, d, at: run.update(
        status=RunStatus.CANCELLING, cancel_requested_by=d["actor"], cancel_reason=d["reason"]
    ),
    "RunSucceeded": _finish(RunStatus.SUCCEEDED),
    "RunFailed": _finish(RunStatus.FAILED),
    "RunTimedOut": _finish(RunStatus.TIMED_OUT),
    "RunCancelled": _finish(RunStatus.CANCELLED),
    "StepQueued": lambda batch, run, d, at: batch.step(
        run, d, at, **_fresh_attempt(StepStatus.QUEUED, d["attempt"], at)
    ),
    "StepStarted": lambda batch, run, d, at: batch.step(
        run, d, at, status=StepStatus.RUNNING, runner=d["runner"], started_at=at, reason=None
    ),
    # Shown as the queued step's reason until a runner starts it.
    "StepWaitingForRunner": lambda batch, run, d, at: batch.step(
        run, d, at, reason=f"waiting_for_runner: no live runner has label {', '.join(d['labels'])}"
    ),
    "StepCarriedOver": lambda batch, run, d, at: batch.step(
        run,
        d,
        at,
        status=StepStatus.SUCCEEDED,
        attempt=d["attempt"],
        reason=f"carried over from run {d['from_run']}",
        finished_at=at,
        outputs=d["outputs"],
    ),
    "StepSucceeded": _end_attempt(StepStatus.SUCCEEDED),
    "StepFailed": _end_attempt(StepStatus.FAILED),
    "StepTimedOut": _end_attempt(StepStatus.TIMED_OUT),
    "StepSkipped": _close(StepStatus.SKIPPED),
    "StepCancelled": _close(StepStatus.CANCELLED),
    "ApprovalRequested": lambda batch, run, d, at: batch.step(
        run, d, at, status=StepStatus.WAITING_FOR_APPROVAL, queued_at=at
    ),
    # Opened, a run step goes back to pending until it is queued; an approval step's own
    # end (succeeded, or failed when rejected) follows in the same command.
    "ApprovalDecided": lambda batch, run, d, at: (
        batch.step(run, d, at, status=StepStatus.PENDING) if d["opens"] else None
    ),
}


# Queries

RUN_SORTS = {
    "created_at": SortKey("queued_at"),
    "queued_at": SortKey("queued_at"),
    "updated_at": SortKey("updated_at"),
    "started_at": SortKey("started_at", nullable=True),
    "completed_at": SortKey("finished_at", nullable=True),
    "finished_at": SortKey("finished_at", nullable=True),
    "duration_ms": SortKey("duration_ms", type=int, nullable=True),
    "status": SortKey("status", type=str),
}
"""The `order_by` names list_runs takes; default `created_at`."""
_DEGRADED_ROW = with_degraded(stream_degraded(RunsProjection.name))


def list_runs_query(schema: str, filters: RunFilters, page: Page) -> PageQuery:
    """The SQL list_runs runs (apart so a test can EXPLAIN it)."""
    f, w = filters, Where()
    w.within("r.project_id", f.project_ids)
    w.when(f.pipeline_id, "r.pipeline_id = {}")
    w.one_of("r.status", tuple(map(str, f.status)), "text")
    w.one_of("r.trigger_kind", tuple(map(str, f.trigger_kind)), "text")
    w.when(f.branch, "r.branch = {}")
    w.when(f.ref, "r.ref = {}")
    w.when(f.actor, "r.actor = {}")
    w.when(f.external_provider and str(f.external_provider), "r.external_provider = {}")
    for column, after, before in (
        ("queued_at", f.created_after, f.created_before),
        ("started_at", f.started_after, f.started_before),
        ("finished_at", f.completed_after, f.completed_before),
        ("updated_at", f.updated_after, f.updated_before),
    ):
        w.when(after, f"r.{column} >= {{}}")
        w.when(before, f"r.{column} < {{}}")
    return page_query(
        f"{ident(schema)}.runs r", w, page, RUN_SORTS, "created_at", row=_DEGRADED_ROW
    )


async def list_runs(
    conn: asyncpg.Connection | asyncpg.Pool, schema: str, filters: RunFilters, page: Page
) -> PageResult[RunRow]:
    return await fetch_page(conn, list_runs_query(schema, filters, page), RunRow)


async def get_run(
    conn: asyncpg.Connection | asyncpg.Pool, schema: str, run_id: UUID
) -> RunDetail | None:
    """The run with its steps in plan order, or None."""
    s = ident(schema)
    text = await conn.fetchval(
        f"SELECT ({_DEGRADED_ROW} || jsonb_build_object('steps', coalesce("
        f"(SELECT jsonb_agg(t ORDER BY t.idx) FROM {s}.steps t WHERE t.run_id = r.id),"
        f" '[]'::jsonb)))::text FROM {s}.runs r WHERE r.id = $1",
        run_id,
    )
    return None if text is None else msgspec.json.decode(text, type=RunDetail)
