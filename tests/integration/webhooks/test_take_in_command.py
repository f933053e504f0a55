"""A delivery is taken in by one command, `TakeInWebhookDelivery`: its source found, its signature
checked and its record appended in one attempt of the bus, which alone decides again when the
source moved. A refusal is the command's (counted `rejected`, not an error) and writes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY

from adapters.platform.services import Services
from adapters.webhooks.ingest import ARRIVING
from commands.bus import CommandBus, Dependencies
from commands.context import CommandContext
from commands.handlers import HANDLERS
from commands.webhook_deliveries import TakeInWebhookDelivery
from tests.helpers import unique_id
from tests.integration.webhooks import test_ingest_read_guards as guards
from tests.integration.webhooks.support import Sources
from tests.integration.webhooks.test_ingest_read_guards import BODY, deliver, recorded, refused

api, sources = guards.api, guards.sources  # the fixtures: the API's own services, and sources

OUTCOMES = ("ok", "rejected", "error")


def counted(outcome: str) -> float:
    labels = {"command": "TakeInWebhookDelivery", "outcome": outcome}
    return REGISTRY.get_sample_value("flowledger_commands_total", labels) or 0.0


async def test_a_refused_delivery_is_a_rejected_command_that_writes_nothing(
    api: Services, sources: Sources
) -> None:
    source = await sources.register("github")
    before = {outcome: counted(outcome) for outcome in OUTCOMES}
    delivery = unique_id()

    assert await refused(api, source, "not-the-secret", delivery) == 401
    await deliver(api, source, source["secret"], unique_id())

    after = {outcome: counted(outcome) for outcome in OUTCOMES}
    assert after == {
        "ok": before["ok"] + 1,
        "rejected": before["rejected"] + 1,
        "error": before["error"],
    }
    assert await recorded(api, source, delivery) == 0


async def test_a_bus_without_a_gate_takes_in_nothing(api: Services) -> None:
    deps = api.bus._dependencies
    gateless = Dependencies(
        repository=deps.repository,
        sealer=deps.sealer,
        secrets=deps.secrets,
        heartbeats=deps.heartbeats,
    )
    command = TakeInWebhookDelivery(
        kind="github", ref=unique_id(), headers={}, query={}, body=BODY, delivery_id="d"
    )
    context = CommandContext(principal=ARRIVING, at=datetime.now(UTC), correlation_id="d")

    with pytest.raises(RuntimeError, match="no gate"):
        await CommandBus(HANDLERS, gateless).dispatch(command, context)
