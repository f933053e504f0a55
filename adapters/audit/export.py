"""`flowledger export`: the global feed as NDJSON, read and written a batch at a time."""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import BinaryIO

import asyncpg
import msgspec

from adapters.audit.reads import FeedFilters, batches, feed_reader
from adapters.platform.cipher_key import resolve_cipher_key
from adapters.platform.settings import Settings
from adapters.store.personal import reveal
from adapters.store.personal.keys import SubjectKeys
from adapters.store.reader import head as head_position

_lines = msgspec.json.Encoder()


class ExportReport(msgspec.Struct, frozen=True, kw_only=True):
    events: int
    head: int
    """The last position committed when the export began."""
    next_after: int
    """Where a following export resumes: the last event written, or the head if all was read."""


async def export(
    database_url: str,
    out: BinaryIO,
    *,
    after: int = 0,
    limit: int | None = None,
    filters: FeedFilters | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ExportReport:
    """Write the matching events after `after` (at most `limit`) to `out`, one a line;
    `progress`, if given, hears (positions read past `after`, positions to read) per batch."""
    async with asyncpg.create_pool(database_url, min_size=1, max_size=1) as pool:
        head = await head_position(pool)
        read = feed_reader(filters or FeedFilters(), head)
        count, last = 0, after
        async for batch in batches(pool, read, "position", after, limit=limit):
            out.write(_lines.encode_lines(batch))
            count, last = count + len(batch), batch[-1].position
            if progress is not None:
                progress(last - after, max(head - after, last - after))
        out.flush()
    full = limit is not None and count == limit
    return ExportReport(events=count, head=head, next_after=last if full else max(after, head))


@contextlib.contextmanager
def configured_database(settings: Settings, err: Callable[[str], None]) -> Iterator[str]:
    """The configured database, else that of the `up` running on the data folder, else the
    embedded one started for the block (without NATS: readers need none)."""
    if settings.database_url:
        yield settings.database_url
        return
    from adapters.platform.runtime import servers

    with servers(settings, log=err) as urls:
        yield urls.database_url


@contextlib.contextmanager
def _opened(path: str | None) -> Iterator[BinaryIO]:
    if path is None or path == "-":
        yield sys.stdout.buffer
        return
    with open(path, "wb") as file:
        yield file


def export_command(
    settings: Settings,
    args: argparse.Namespace,
    *,
    err: Callable[[str], None],
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Run `flowledger export` as parsed by adapters/cli/export.py."""
    filters = FeedFilters(
        stream_types=tuple(args.stream_type or ()),
        types=tuple(args.type or ()),
        recorded_after=args.recorded_after,
        recorded_before=args.recorded_before,
    )
    # Personal values are exported as every reader shows them: opened, or erased.
    reveal.install(SubjectKeys(base64.b64decode(resolve_cipher_key(settings))))
    with configured_database(settings, err) as database_url, _opened(args.output) as out:
        report = asyncio.run(
            export(
                database_url,
                out,
                after=args.after,
                limit=args.limit,
                filters=filters,
                progress=progress,
            )
        )
    err(
        f"exported {report.events} events (head {report.head}); "
        f"resume with --after {report.next_after}"
    )
