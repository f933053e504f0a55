"""`flowledger artifacts list RUN` and `flowledger artifacts download RUN NAME [-o PATH]`."""

from __future__ import annotations

import argparse
import hashlib
import textwrap
from collections.abc import Callable
from pathlib import Path

from adapters.platform.settings import Settings

Handler = Callable[[argparse.Namespace], int]
Out = Callable[[str], None]
EXIT_USAGE, EXIT_NOT_FOUND, EXIT_API = 2, 4, 5
BLOCK = 256 * 1024
HELP = """\
configuration: environment variables (.env files too)
  FLOWLEDGER_API_URL  the API (default: that of `flowledger up` on FLOWLEDGER_DATA_DIR)
  FLOWLEDGER_API_KEY  the API key sent as X-API-Key (needs `read`)

exit codes: 0 done; 2 bad usage; 4 no such run or artifact; 5 the API refused or is away,
  or the bytes did not match the artifact's sha256 (the partial file is removed).
"""


def add_artifact_commands(commands: argparse._SubParsersAction, run: Handler) -> None:
    sub = commands.add_parser(
        "artifacts",
        help="list or download the artifacts of a run",
        description=textwrap.fill(
            "List a run's artifacts (name, size, sha256), or download one: streamed to a "
            "file (default: its own file name, or NAME.tar for a tar) and checked against "
            "its sha256.",
            78,
        ),
        epilog=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = sub.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="the run's artifacts, one a line")
    listing.add_argument("run_id", metavar="RUN")
    download = actions.add_parser("download", help="download one artifact to a file")
    download.add_argument("run_id", metavar="RUN")
    download.add_argument("name", metavar="NAME", help="the artifact (its step's name)")
    download.add_argument("-o", "--output", metavar="PATH", help="where to write it")
    for action in (listing, download):
        action.add_argument("--api", metavar="URL", help="the API's base URL")
        action.add_argument("--token", metavar="KEY", help="API key (default FLOWLEDGER_API_KEY)")
        action.set_defaults(run=run)


def artifacts_command(settings: Settings, args: argparse.Namespace, *, out: Out, err: Out) -> int:
    import httpx

    from adapters.runner.launch import api_url_of

    token = args.token or settings.api_key
    if not token:
        err("flowledger: give an API key: --token or FLOWLEDGER_API_KEY")
        return EXIT_USAGE
    api_url = (args.api or api_url_of(settings)).rstrip("/")
    headers = {"X-API-Key": token}
    try:
        with httpx.Client(base_url=api_url, headers=headers, timeout=60.0) as http:
            if args.action == "list":
                return _list(http, args.run_id, out=out, err=err)
            return _download(http, args.run_id, args.name, args.output, out=out, err=err)
    except (OSError, httpx.TransportError) as exc:
        err(f"flowledger: cannot reach the API at {api_url}: {exc}")
        return EXIT_API


def _list(http: object, run_id: str, *, out: Out, err: Out) -> int:
    answer = http.get(f"/api/v1/pipeline-runs/{run_id}/artifacts")  # type: ignore[attr-defined]
    if not answer.is_success:
        return _refused(answer, err)
    for item in answer.json()["items"]:
        state = " (deleted)" if item["deleted_at"] else ""
        out(f"{item['name']}\t{item['kind']}\t{item['size']}\t{item['sha256']}{state}")
    return 0


def _download(
    http: object, run_id: str, name: str, output: str | None, *, out: Out, err: Out
) -> int:
    url = f"/api/v1/pipeline-runs/{run_id}/artifacts/{name}"
    with http.stream("GET", url) as answer:  # type: ignore[attr-defined]
        if not answer.is_success:
            answer.read()
            return _refused(answer, err)
        target = Path(output or _filename(answer.headers.get("content-disposition"), name))
        expected = answer.headers.get("etag", "").strip('"')
        digest, size = hashlib.sha256(), 0
        with target.open("wb") as file:
            for block in answer.iter_bytes(BLOCK):
                digest.update(block)
                file.write(block)
                size += len(block)
    if expected and digest.hexdigest() != expected:
        target.unlink(missing_ok=True)
        err(f"flowledger: {name}: the bytes received do not match its sha256 {expected}")
        return EXIT_API
    err(f"{name}: {size} bytes, sha256 {digest.hexdigest()}")
    out(str(target))
    return 0


def _filename(disposition: str | None, name: str) -> str:
    if disposition and 'filename="' in disposition:
        found = disposition.split('filename="', 1)[1].rstrip('"')
        if found and "/" not in found and found not in (".", ".."):
            return found
    return name


def _refused(answer: object, err: Out) -> int:
    status = answer.status_code  # type: ignore[attr-defined]
    try:
        problem = answer.json()  # type: ignore[attr-defined]
        detail = f"{problem.get('detail') or problem.get('title')} ({problem.get('code')})"
    except ValueError:
        detail = f"HTTP {status}"
    err(f"flowledger: {detail}")
    return EXIT_NOT_FOUND if status == 404 else EXIT_API
