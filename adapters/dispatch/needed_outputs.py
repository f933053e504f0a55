"""What a step sees of the steps it needs: their outputs, as environment variables.

Each output `key` of a needed step `step` is `FLOWLEDGER_OUTPUT_<step>_<key>`, with every
character that a shell variable name cannot hold written `_` (`approve-deploy`'s `version` is
`FLOWLEDGER_OUTPUT_approve_deploy_version`). An approval step's outputs are its inputs.
"""

from __future__ import annotations

import re

from domain.run import Run

PREFIX = "FLOWLEDGER_OUTPUT_"
_NOT_IN_A_NAME = re.compile(r"[^A-Za-z0-9_]")


def variable(step: str, key: str) -> str:
    return PREFIX + _NOT_IN_A_NAME.sub("_", f"{step}_{key}")


def needed_outputs(run: Run, step: str) -> dict[str, str]:
    """The outputs of the steps `step` needs directly, in plan order, by variable name."""
    return {
        variable(need, key): value
        for need in run.plan[step].needs
        for key, value in run.steps[need].outputs.items()
    }
