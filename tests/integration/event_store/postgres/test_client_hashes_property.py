"""A property over append_batch calls mixing client- and server-hashed appends (migration 0021):
new streams, existing streams with and without a known head, conflicts, idempotent replays,
and a second append to a stream already in the batch, chained on the first one's last hash.
Every answer is the one the version, the key and the previous hash call for, and every stored
hash is sha256(previous || canonical) recomputed from the stored rows."""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from dataclasses import dataclass, field

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.store.append_batch import APPEND_BATCH, PendingAppend, batch_arguments
from adapters.store.encoding import GENESIS_HASH
from tests.helpers import unique_id
from tests.integration.event_store.postgres.hashed_calls import assert_chains_hold, pending

# What one append of a batch is: its stream, how far its expected version is off (0: right),
# whether the client hashes it, its events, and its idempotency key.
KINDS = st.sampled_from(["new", "existing", "again"])
SPEC = st.tuples(
    KINDS,
    st.integers(min_value=0, max_value=3),  # which existing stream
    st.sampled_from([0, 0, 0, -1, 1]),  # expected version off by
    st.sampled_from(["client", "client", "server", "wrong"]),  # who hashes; "wrong": a bad prev
    st.integers(min_value=1, max_value=3),  # events
    st.sampled_from([None, None, "fresh", "replay", "reuse"]),  # idempotency key
)


@dataclass
class World:
    """The streams the property appends to, as stored: version and head hash; used keys."""

    streams: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)  # key -> its stream
    seen: Counter[str] = field(default_factory=Counter)  # answers checked, by who hashed


def expected_status(world: World, append: PendingAppend) -> str:
    """What 0020 answered, plus `prev_differs` for a hash chained on another head."""
    key = append.idempotency_key
    if key is not None and key in world.keys:
        return "duplicate" if world.keys[key] == append.stream_id else "key_reused"
    version, head = world.streams.get(append.stream_id, (0, GENESIS_HASH))
    if version != append.expected_version:
        return "conflict"
    if append.prev_hash is not None and append.prev_hash != head:
        return "prev_differs"
    return "ok"


async def one_batch(conn: asyncpg.Connection, world: World, specs: list) -> None:
    existing = list(world.streams)
    batch: list[PendingAppend] = []
    for kind, which, off, hasher, events, key_kind in specs:
        if kind == "again" and batch:
            first = batch[which % len(batch)]
            stream, expected = first.stream_id, first.expected_version + len(first.events)
            # Chained on the first one's last hash, which is stored only if the first commits:
            # it is not (the second is judged on the stream as it was), so never a wrong hash.
            prev = first.events[-1].hash if first.prev_hash is not None else None
        else:
            stream = existing[which % len(existing)] if kind == "existing" else unique_id("p-")
            version, head = world.streams.get(stream, (0, GENESIS_HASH))
            expected = max(0, version + off)
            prev = head if expected == version else os.urandom(32)
        if key_kind == "replay" and world.keys:  # the same append sent again
            key = list(world.keys)[which % len(world.keys)]
            stream = world.keys[key]
        elif key_kind == "reuse" and (others := [k for k, s in world.keys.items() if s != stream]):
            key = others[which % len(others)]  # another stream's key
        else:
            key = unique_id("k-") if key_kind == "fresh" else None
        if key in {p.idempotency_key for p in batch}:
            key = None  # the writer never puts one key twice in a batch
        if hasher == "server":
            prev = None
        elif hasher == "wrong":
            prev = os.urandom(32)
        batch.append(pending(stream, expected, events, prev=prev, key=key))
    wanted = [expected_status(world, p) for p in batch]
    # Two appends judged ok on one stream collide on its version: the call fails whole, and the
    # writer sends them one by one. Not drawn: nothing of such a batch is kept.
    ok_streams = [p.stream_id for p, w in zip(batch, wanted, strict=True) if w == "ok"]
    if len(ok_streams) != len(set(ok_streams)):
        return

    rows = await conn.fetch(APPEND_BATCH, *batch_arguments(batch))

    assert [row["status"] for row in rows] == wanted
    for append, status in zip(batch, wanted, strict=True):
        world.seen[status] += 1
        world.seen[f"{status} {'client' if append.prev_hash is not None else 'server'}"] += 1
        if append.stream_id in [p.stream_id for p in batch if p is not append]:
            world.seen["one stream twice"] += 1
    for append, row in zip(batch, rows, strict=True):
        if row["status"] == "ok":
            if append.prev_hash is not None:  # the server took the client's hashes as sent
                assert row["last_hash"] == append.events[-1].hash
            world.streams[append.stream_id] = (row["to_version"], row["last_hash"])
            if append.idempotency_key is not None:
                world.keys[append.idempotency_key] = append.stream_id
    await assert_chains_hold(conn, {p.stream_id for p in batch})


def _check(url: str) -> None:
    async def setup() -> World:
        world = World()
        conn = await asyncpg.connect(url)
        try:
            for _ in range(4):
                stream = unique_id("p-")
                [row] = await conn.fetch(
                    APPEND_BATCH, *batch_arguments([pending(stream, 0, 2, prev=None)])
                )
                world.streams[stream] = (2, row["last_hash"])
        finally:
            await conn.close()
        return world

    world = asyncio.run(setup())

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(specs=st.lists(SPEC, min_size=1, max_size=6))
    def check(specs: list) -> None:
        async def run() -> None:
            conn = await asyncpg.connect(url)
            try:
                await one_batch(conn, world, specs)
            finally:
                await conn.close()

        asyncio.run(run())

    check()
    assert set(world.seen) >= {
        "ok client",
        "ok server",
        "conflict",
        "prev_differs",
        "duplicate",
        "key_reused",
        "one stream twice",
    }, world.seen


async def test_every_stored_hash_recomputes_whichever_side_hashed(store_url: str) -> None:
    await asyncio.to_thread(_check, store_url)
