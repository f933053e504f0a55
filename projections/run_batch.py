"""The rows of the runs read model one batch of events touches, changed in event order."""

from __future__ import annotations

from typing import Any

from domain.run_statuses import RunStatus, StepStatus
from projections.degraded import table_columns
from projections.rows import Row
from projections.run_rows import RunRow, StepRow

RUN_COLUMNS = table_columns(RunRow)
STEP_COLUMNS = StepRow.__struct_fields__


class RunBatch:
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
                **fresh_attempt(StepStatus.PENDING, 0, None),
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


def fresh_attempt(status: StepStatus, attempt: int, queued_at: str | None) -> Row:
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
