"""An operator's system notice reaches every `/ws/system` watcher (real PostgreSQL, NATS, relay)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from adapters.platform.admin_key import create_key
from adapters.store import EventStore
from adapters.streaming.relay import RelayConfig
from commands.context import CommandContext, Principal
from commands.system_notices import SendSystemNotice
from tests.integration.gateway.gatewaying import a_run, connect, gateway, leave, receive

OPERATOR = Principal(id="ops", name="operator", project_id=None, scopes=frozenset({"admin"}))


async def test_a_notice_reaches_the_system_watchers(
    store: EventStore, services: Any, relay: RelayConfig, database_url: str, nats_url: str
) -> None:
    run = await a_run(store)
    _, token = await create_key(
        services, name="watcher", scopes=("read",), project_id=None, at=datetime.now(UTC)
    )
    async with gateway(database_url, nats_url, relay) as client:
        after = run.last
        ws = await connect(client, "/ws/system", token=token, after=after)
        context = CommandContext(principal=OPERATOR, at=datetime.now(UTC), correlation_id="n")
        notice = SendSystemNotice(
            title="Maintenance at 18:00", message="10 minutes", level="warning"
        )
        sent = await services.bus.dispatch(notice, context)
        # Everything after the run reaches a system watcher (its own key's ApiKeyIssued, and
        # whatever else the session writes meanwhile): the notice is among them.
        seen: list[dict[str, Any]] = []
        while not any(m["type"] == "SystemNoticeSent" for m in seen) and len(seen) < 50:
            seen += await receive(ws, 1)
        await leave(ws)

    [received] = [m for m in seen if m["type"] == "SystemNoticeSent"]
    assert received["stream_id"] == sent.id
    assert received["data"]["title"] == "Maintenance at 18:00"
    assert received["data"]["level"] == "warning"
    assert received["metadata"]["actor"] == "operator"
    assert run.last < received["position"]
