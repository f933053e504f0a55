"""What a step attempt is told about its run: trigger facts, parameters and needed outputs.

Names are stable and documented (docs/building.md): `FLOWLEDGER_TRIGGER_<FIELD>` for each of
`templates.TRIGGER_FIELDS` that the run has, `FLOWLEDGER_PARAM_<name>` for each parameter (set
by the runner), and `FLOWLEDGER_STEPS_<STEP>_OUTPUTS_<KEY>` for each output of each step the
step needs, directly or not (names upper-cased, other characters as `_`).
"""

from __future__ import annotations

from collections.abc import Mapping

from domain.run_values import StepPlan, Trigger
from domain.step_options import ancestors
from domain.templates import env_name

TRIGGER_PREFIX = "FLOWLEDGER_TRIGGER_"
STEPS_PREFIX = "FLOWLEDGER_STEPS_"


def trigger_facts(trigger: Trigger, *, actor: str | None) -> dict[str, str]:
    """The trigger as `${{ trigger.<field> }}` sees it: only the facts the run has.

    `actor` is given apart: a person's name is sealed in the run and opened by the caller.
    """
    ref = trigger.ref or ""
    facts = {
        "kind": str(trigger.kind),
        "provider": trigger.provider,
        "actor": actor,
        "repository": trigger.repo,
        "repository_url": trigger.clone_url,
        "ref": trigger.ref,
        "branch": ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None,
        "tag": ref.removeprefix("refs/tags/") if ref.startswith("refs/tags/") else None,
        "sha": trigger.sha,
        "pr_number": str(trigger.pull_request) if trigger.pull_request else None,
        "base_ref": trigger.base_ref,
        "event": trigger.event,
        "delivery_id": trigger.delivery_id,
    }
    return {field: value for field, value in facts.items() if value}


def needed_outputs(
    step: str, plan: Mapping[str, StepPlan], outputs: Mapping[str, Mapping[str, str]]
) -> dict[str, dict[str, str]]:
    """The outputs of every step `step` needs, directly or not (what its templates may use)."""
    needs = {name: p.needs for name, p in plan.items()}
    return {name: dict(outputs.get(name, {})) for name in sorted(ancestors(needs, step))}


def context_env(
    facts: Mapping[str, str], outputs: Mapping[str, Mapping[str, str]]
) -> dict[str, str]:
    """The trigger facts and needed outputs as environment variables."""
    env = {f"{TRIGGER_PREFIX}{env_name(field)}": value for field, value in facts.items()}
    for step, values in outputs.items():
        for key, value in values.items():
            env[f"{STEPS_PREFIX}{env_name(step)}_OUTPUTS_{env_name(key)}"] = value
    return env
