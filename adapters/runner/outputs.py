"""A step's outputs: what it wrote to $FLOWLEDGER_OUTPUT (also $FLOWLEDGER_OUTPUTS), within the
API's limits, in GitHub's `$GITHUB_OUTPUT` format: `key=value` lines, and multi-line values as

    key<<EOF
    first line
    second line
    EOF

Lines that break a limit are skipped and named, so one bad line never costs the step its report.
"""

from __future__ import annotations

from pathlib import Path

from domain.limits import KEY_MAX, OUTPUT_VALUE_MAX
from domain.value_checks import OUTPUTS_MAX

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
    lines = raw.decode(errors="replace").splitlines()
    index = 0
    while index < len(lines):
        line, number = lines[index], index + 1
        index += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, value, problem = _pair(line)
        if problem is None and value is None:  # `key<<DELIMITER`: the value runs to DELIMITER
            delimiter = line.partition("<<")[2]
            try:
                end = lines.index(delimiter, index)
            except ValueError:
                problems.append(f"outputs line {number}: no closing {delimiter!r} line")
                break
            value, index = "\n".join(lines[index:end]), end + 1
        if problem is None:
            problem = _over_limit(key, value or "", outputs)
        if problem is not None:
            problems.append(f"outputs line {number}: {problem}")
        else:
            outputs[key] = (value or "").replace("\x00", "\ufffd")
    return outputs, problems


def _pair(line: str) -> tuple[str, str | None, str | None]:
    """(key, value or None for a heredoc's first line, what is wrong) of one line."""
    equals, heredoc = line.find("="), line.find("<<")
    if heredoc >= 0 and (equals < 0 or heredoc < equals):
        key, _, delimiter = line.partition("<<")
        if not key.strip() or not delimiter.strip():
            return "", None, "expected key<<DELIMITER"
        return key.strip(), None, None
    key, sep, value = line.partition("=")
    if not sep or not key.strip():
        return "", "", "expected key=value"
    return key.strip(), value, None


def _over_limit(key: str, value: str, outputs: dict[str, str]) -> str | None:
    if len(key) > KEY_MAX:
        return f"key longer than {KEY_MAX} characters"
    if len(value.encode()) > OUTPUT_VALUE_MAX:
        return f"value over {OUTPUT_VALUE_MAX} bytes"
    if key not in outputs and len(outputs) >= OUTPUTS_MAX:
        return f"more than {OUTPUTS_MAX} keys"
    return None
