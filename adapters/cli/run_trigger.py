"""`flowledger run`: find the pipeline (by id or name), type its parameters, trigger a run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

import httpx

TRUE = frozenset({"true", "yes", "on", "1"})
FALSE = frozenset({"false", "no", "off", "0"})


class RunCommandError(Exception):
    """What went wrong, said for the terminal (the API's problem detail where there is one)."""


class UsageError(RunCommandError):
    """The command line itself is wrong (a --param that is not NAME=VALUE, or not its type)."""


def client(api_url: str, api_key: str) -> httpx.Client:
    return httpx.Client(base_url=api_url, headers={"X-API-Key": api_key}, timeout=15.0)


def answer_of(response: httpx.Response) -> dict[str, Any]:
    """The JSON body of a 2xx answer; RunCommandError with the problem's detail otherwise."""
    if response.is_success:
        found = response.json()
        return found if isinstance(found, dict) else {}
    try:
        problem = response.json()
        detail = f"{problem.get('detail') or problem.get('title')} ({problem.get('code')})"
    except ValueError:
        detail = response.text[:200] or response.reason_phrase
    raise RunCommandError(f"{response.request.method} {response.request.url.path}: "
                          f"{response.status_code} {detail}")  # fmt: skip


def find_pipeline(http: httpx.Client, ref: str) -> dict[str, Any]:
    """The pipeline whose id is `ref`, or the only active one named exactly `ref`."""
    try:
        pipeline_id = UUID(ref)
    except ValueError:
        pass
    else:
        return answer_of(http.get(f"/api/v1/pipelines/{pipeline_id}"))
    found, cursor = [], None
    while True:
        params: dict[str, Any] = {"name": ref, "limit": 100, "is_active": "true"}
        if cursor:
            params["cursor"] = cursor
        page = answer_of(http.get("/api/v1/pipelines", params=params))
        found += [p for p in page.get("items", []) if p.get("name") == ref]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    if not found:
        raise RunCommandError(f"no active pipeline named {ref!r} (or give its id)")
    if len(found) > 1:
        ids = ", ".join(f"{p['id']} (project {p['project_id']})" for p in found)
        raise RunCommandError(f"{len(found)} pipelines are named {ref!r}: give one id of {ids}")
    return found[0]


def typed_parameters(pipeline: Mapping[str, Any], given: Sequence[str]) -> dict[str, Any]:
    """`k=v` pairs typed as the pipeline declares them (text is all a terminal can give)."""
    declared = {
        p["name"]: p.get("type", "string")
        for p in (pipeline.get("definition") or {}).get("parameters", [])
    }
    typed: dict[str, Any] = {}
    for pair in given:
        name, sep, raw = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"--param {pair!r}: expected NAME=VALUE")
        typed[name] = _typed(name, declared.get(name, "string"), raw)
    return typed


def _typed(name: str, kind: str, raw: str) -> Any:
    try:
        match kind:
            case "integer":
                return int(raw)
            case "number":
                number = float(raw)
                return int(number) if number.is_integer() and "." not in raw else number
            case "boolean":
                if raw.lower() in TRUE | FALSE:
                    return raw.lower() in TRUE
                raise ValueError(raw)
            case _:
                return raw
    except ValueError:
        raise UsageError(f"--param {name}: {raw!r} is not a valid {kind}") from None


def trigger(http: httpx.Client, pipeline_id: str, parameters: Mapping[str, Any]) -> tuple[str, int]:
    """Request a run; its id, and the event position to read it at (read-your-writes)."""
    body = {"parameters": dict(parameters), "kind": "manual"}
    answer = answer_of(http.post(f"/api/v1/pipelines/{pipeline_id}/runs", json=body))
    return str(answer["id"]), int(answer.get("position") or 0)
