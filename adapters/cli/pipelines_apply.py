"""`flowledger pipelines apply FILE.yaml`: create or update a pipeline from its file, printing
the diff against the current version; the same file again writes nothing."""

from __future__ import annotations

import argparse
import hashlib
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

import msgspec

from adapters.platform.settings import Settings

Out = Callable[[str], None]
EXIT_USAGE, EXIT_API = 2, 5
APPLY_HELP = """\
configuration: environment variables (.env files too)
  FLOWLEDGER_API_URL  the API (default: that of `flowledger up` on FLOWLEDGER_DATA_DIR,
                      else http://FLOWLEDGER_HOST:FLOWLEDGER_PORT)
  FLOWLEDGER_API_KEY  the API key sent as X-API-Key (needs `write` and `read`)

exit codes: 0 applied (or unchanged); 2 the file or the command line is wrong (the place is
  printed as FILE:LINE:COLUMN); 5 the API refused the definition or could not be reached.
"""


class ApplyError(Exception):
    """What went wrong, said for the terminal."""


def add_pipelines_commands(commands: argparse._SubParsersAction, *, apply: Callable) -> None:
    pipelines = commands.add_parser(
        "pipelines",
        help="pipelines as code: apply a pipeline's YAML file",
        description="Manage pipelines from files.",
    )
    actions = pipelines.add_subparsers(dest="action", required=True, metavar="ACTION")
    sub = actions.add_parser(
        "apply",
        help="create or update a pipeline from FILE.yaml, printing the diff",
        description=textwrap.fill(
            "Create the pipeline FILE defines, or append a new version of it, and print the "
            "diff against the current version. The pipeline is the file's `id`, else the one "
            "named the file's `name` in its project (`project_id` in the file, or --project). "
            "Applying a file that changes nothing writes nothing. The format's JSON Schema is "
            "served at /api/v1/schemas/pipeline.json.",
            78,
        ),
        epilog=APPLY_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub.add_argument("file", metavar="FILE.yaml", type=Path)
    sub.add_argument("--project", type=UUID, metavar="ID", help="when the file names none")
    sub.add_argument("--api", metavar="URL", help="the API's base URL")
    sub.add_argument("--token", metavar="KEY", help="API key (default FLOWLEDGER_API_KEY)")
    sub.set_defaults(run=apply)


def apply_file(settings: Settings, args: argparse.Namespace, *, out: Out, err: Out) -> int:
    import httpx

    from adapters.cli.run_trigger import RunCommandError, client
    from adapters.pipeline_code.yaml_text import YamlRefused
    from adapters.runner.launch import api_url_of

    token = args.token or settings.api_key
    if not token:
        err("flowledger: give an API key: --token or FLOWLEDGER_API_KEY")
        return EXIT_USAGE
    api_url = (args.api or api_url_of(settings)).rstrip("/")
    try:
        text = args.file.read_bytes()
        document = _document(args.file, text)
    except OSError as exc:
        err(f"flowledger: {args.file}: {exc.strerror or exc}")
        return EXIT_USAGE
    except YamlRefused as exc:
        err(f"{_at(args.file, exc.line, exc.column)}: {exc.reason}")
        return EXIT_USAGE
    except ApplyError as exc:
        err(str(exc))
        return EXIT_USAGE
    try:
        with client(api_url, token) as http:
            return _apply(http, args, text, document, out=out, err=err)
    except ApplyError as exc:
        err(f"flowledger: {exc}")
        return EXIT_USAGE
    except RunCommandError as exc:
        err(f"flowledger: {exc}")
        return EXIT_API
    except (OSError, httpx.TransportError) as exc:
        err(f"flowledger: cannot reach the API at {api_url}: {exc}")
        return EXIT_API


def _document(path: Path, text: bytes) -> Any:
    """The file as a PipelineFile, its definition checked; ApplyError placed in the file."""
    from adapters.pipeline_code.document import PipelineFile, definition_of
    from adapters.pipeline_code.yaml_text import load_yaml, path_in
    from domain.errors import InvalidValue

    loaded = load_yaml(text)
    try:
        document = msgspec.convert(loaded.data, PipelineFile)
        definition_of(document).validated()
    except msgspec.ValidationError as exc:
        field = path_in(str(exc)) or ""
        raise ApplyError(f"{_at(path, *(loaded.place(field) or (None, None)))}: {exc}") from None
    except InvalidValue as exc:
        place = loaded.place(exc.field) or (None, None)
        raise ApplyError(f"{_at(path, *place)}: {exc}") from None
    return document


def _apply(http: Any, args: argparse.Namespace, text: bytes, document: Any, *, out: Out, err: Out):
    from adapters.cli.run_trigger import answer_of
    from adapters.pipeline_code.diff import definition_diff
    from adapters.pipeline_code.document import canonical, definition_of

    definition = definition_of(document).validated()
    current = _current(http, document, args.project)
    if current is None:
        project = document.project_id or args.project
        if project is None:
            raise ApplyError("the file names no `project_id`: give --project")
        body = {"project_id": str(project), **canonical(definition)}
        # Keyed by what it creates: the same file applied twice before the views show the
        # first creates one pipeline.
        key = hashlib.sha256(msgspec.json.encode(body)).hexdigest()[:32]
        out(definition_diff(None, definition, current_name="/dev/null", new_name=str(args.file)))
        created = answer_of(
            http.post("/api/v1/pipelines", json=body, headers={"Idempotency-Key": f"apply:{key}"})
        )
        err(f"created pipeline {created['id']} (version 1)")
        return 0
    diff = definition_diff(
        current["definition"],
        definition,
        current_name=f"{current['id']} (version {current['current_version']})",
        new_name=str(args.file),
    )
    if not diff:
        err(f"unchanged: pipeline {current['id']} (version {current['current_version']})")
        return 0
    out(diff)
    answer_of(
        http.put(
            f"/api/v1/pipelines/{current['id']}",
            content=text,
            headers={
                "Content-Type": "application/yaml",
                "If-Match": f'"{current["stream_version"]}"',
            },
        )
    )
    err(f"updated pipeline {current['id']} (version {current['current_version'] + 1})")
    return 0


def _current(http: Any, document: Any, project: UUID | None) -> dict[str, Any] | None:
    """The pipeline the file defines, as GET shows it; None when there is none yet."""
    from adapters.cli.run_trigger import answer_of

    if document.id is not None:
        response = http.get(f"/api/v1/pipelines/{document.id}")
        if response.status_code == 404:
            raise ApplyError(f"no pipeline {document.id} (the file's `id`)")
        return answer_of(response)
    project = document.project_id or project
    if project is None:
        raise ApplyError("the file names neither `id` nor `project_id`: give --project")
    found, cursor = [], None
    while True:
        params: dict[str, Any] = {"project_id": str(project), "name": document.name, "limit": 100}
        if cursor:
            params["cursor"] = cursor
        page = answer_of(http.get("/api/v1/pipelines", params=params))
        found += [p for p in page["items"] if p["name"] == document.name.strip()]
        if not (cursor := page.get("next_cursor")):
            break
    live = [p for p in found if p["status"] != "archived"]
    if len(live) > 1:
        ids = ", ".join(p["id"] for p in live)
        raise ApplyError(f"{len(live)} pipelines are named {document.name!r}: put one `id` ({ids})")
    if not live:
        return None
    # The list is a summary: the pipeline itself carries the ETag-worthy stream version.
    return answer_of(http.get(f"/api/v1/pipelines/{live[0]['id']}"))


def _at(path: Path, line: int | None, column: int | None) -> str:
    return f"{path}:{line}:{column}" if line is not None else str(path)
