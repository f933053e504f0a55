"""Where PostgreSQL keeps an event's row: in the heap up to a page, out of line beyond it."""

from __future__ import annotations

import base64
import os

import asyncpg

from adapters.store import EventStore, NewEvent
from tests.helpers import unique_id


async def _toast_chunks(store_url: str) -> int:
    """How many chunks the TOAST table of `events` holds (out-of-line values, in pieces)."""
    conn = await asyncpg.connect(store_url)
    try:
        toast = await conn.fetchval(
            "SELECT reltoastrelid::regclass::text FROM pg_class WHERE oid = 'events'::regclass"
        )
        return await conn.fetchval(f"SELECT count(*) FROM {toast}")
    finally:
        await conn.close()


async def test_a_sealed_body_of_a_few_kilobytes_stays_in_the_heap_row(
    store: EventStore, store_url: str
) -> None:
    # A webhook delivery's sealed body: incompressible base64 of about 3 KB (3,110 B measured).
    sealed = base64.b64encode(os.urandom(2400)).decode()
    before = await _toast_chunks(store_url)
    await store.append(
        unique_id("run-"),
        "run",
        [NewEvent(type="RunStarted", data={"payload": sealed})],
        expected_version=0,
    )

    assert await _toast_chunks(store_url) == before


async def test_a_body_larger_than_a_page_is_still_moved_out_of_line(
    store: EventStore, store_url: str
) -> None:
    sealed = base64.b64encode(os.urandom(12_000)).decode()
    before = await _toast_chunks(store_url)
    await store.append(
        unique_id("run-"),
        "run",
        [NewEvent(type="RunStarted", data={"payload": sealed})],
        expected_version=0,
    )

    assert await _toast_chunks(store_url) > before
