"""The gateway keeper's heartbeats: every connection beats once a period, never all at once."""

from __future__ import annotations

import asyncio
import collections
import itertools
import math

from gateway.config import GatewayConfig
from gateway.keeper import BEAT_TURNS, Keeper

CONNECTIONS = 100


class Connection:
    """What the keeper needs of a session: the beats it was given, by the keeper's clock."""

    credential = "key"

    def __init__(self, beats: list[tuple[float, Connection]], enough: asyncio.Event) -> None:
        self.beats = beats
        self.enough = enough

    async def check(self) -> None:
        return None

    def beat(self, now: float) -> None:
        self.beats.append((now, self))
        if len(self.beats) >= 3 * CONNECTIONS:  # three periods or more: everyone beat
            self.enough.set()

    def end(self, why: BaseException | None) -> None:
        raise AssertionError(f"a connection was ended: {why!r}")


async def test_each_connection_beats_every_period_in_its_own_turn() -> None:
    beats: list[tuple[float, Connection]] = []
    keeper = Keeper(GatewayConfig(heartbeat_s=0.4, recheck_s=60))
    enough = asyncio.Event()
    connections = [Connection(beats, enough) for _ in range(CONNECTIONS)]
    for connection in connections:
        keeper.add(connection)
    gone = connections.pop()
    keeper.discard(gone)
    try:
        await asyncio.wait_for(enough.wait(), 30)
    finally:
        await keeper.close()
    per_turn = collections.Counter(now for now, _ in beats)
    assert max(per_turn.values()) <= math.ceil(CONNECTIONS / BEAT_TURNS)
    assert {c for _, c in beats} == set(connections)  # and not the one that left
    # Once a period each: a connection's beats are BEAT_TURNS turns apart.
    turn = {now: index for index, now in enumerate(sorted(per_turn))}
    turns: dict[Connection, list[int]] = collections.defaultdict(list)
    for now, connection in beats:
        turns[connection].append(turn[now])
    gaps = {b - a for found in turns.values() for a, b in itertools.pairwise(found)}
    assert gaps == {BEAT_TURNS}
