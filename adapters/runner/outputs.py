"""A step's outputs: the `key=value` lines it wrote to $FLOWLEDGER_OUTPUTS, within the API's limits.

Lines that break a limit are skipped and named, so one bad line never costs the step its report.
"""

from __future__ import annotations

from pathlib import Path

from domain.run_values import KEY_MAX, OUTPUT_VALUE_MAX, OUTPUTS_MAX

READ_MAX = OUTPUTS_MAX * (KEY_MAX + OUTPUT_VALUE_MAX + 2)


def read_outputs(path: Path) -> tuple[dict[str, str], list[str]]:
    """The outputs (a later line wins for the same key) and one complaint per skipped line."""
    try:
        with path.open("rb") as file:
            raw = file.read(READ_MAX + 1)
    except OSError as exc:
        return {}, [f"outputs file unreadable: {exc.strerror}"]
    problems = []
    if len(raw) > READ_MAX:
        problems.append(f"outputs file larger than {READ_MAX} bytes: the rest was ignored")
        raw = raw[:READ_MAX]
    outputs: dict[str, str] = {}
    for number, line in enumerate(raw.decode(errors="replace").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key:
            problems.append(f"outputs line {number}: expected key=value")
        elif len(key) > KEY_MAX:
            problems.append(f"outputs line {number}: key longer than {KEY_MAX} characters")
        elif len(value.encode()) > OUTPUT_VALUE_MAX:
            problems.append(f"outputs line {number}: value over {OUTPUT_VALUE_MAX} bytes")
        elif key not in outputs and len(outputs) >= OUTPUTS_MAX:
            problems.append(f"outputs line {number}: more than {OUTPUTS_MAX} keys")
        else:
            outputs[key] = value.replace("\x00", "\ufffd")
    return outputs, problems
