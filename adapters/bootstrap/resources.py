"""What one process opens once and shares: its PostgreSQL pool, its NATS connection, and the
write side on that pool (event store, repository, command bus, secrets)."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Literal

import asyncpg

from adapters.bootstrap.view_quarantines import ViewQuarantines
from adapters.platform.cipher_key import resolve_cipher_key
from adapters.platform.secrets import SecretBox
from adapters.platform.services import RandomSecrets, Services
from adapters.platform.settings import Settings
from adapters.secrets import vault
from adapters.secrets.kept import KeptSecrets
from adapters.secrets.values import PgSecretValues
from adapters.store import EventStore
from adapters.store.aggregate_cache import CachingRepository
from adapters.store.heartbeats import PgHeartbeats
from adapters.store.personal import reveal
from adapters.store.personal.keys import PgDataSubjects, SubjectKeys
from adapters.store.personal.sealer import Sealer
from adapters.store.pool import open_pool
from adapters.store.tail_reads import TailReads
from adapters.streaming.nats import RECONNECT_WAIT_S, NatsConnection
from adapters.telemetry.observer import TelemetryObserver
from adapters.webhooks.gate import SourceGate
from adapters.webhooks.limits import MAX_EVENT_BYTES as MAX_DELIVERY_EVENT_BYTES
from commands.bus import CommandBus, Dependencies
from commands.handlers import HANDLERS
from domain.registry import default_registry

ProcessRole = Literal[
    "up", "api", "gateway", "intake", "dispatcher", "scheduler", "deliverer", "command"
]

PG_CONNECT_TIMEOUT_S = 5.0
"""A connection that takes longer is a database in trouble: /ready and commands say so."""
COMMAND_POOL_SIZE = 3
"""One-shot commands (`migrate`'s first key, `keys create`): a few appends, then exit."""
STORE_POOL_SIZE = 10
"""The event store's own pool, when it is opened without the process's (tests, benches)."""


def pool_size(settings: Settings, role: ProcessRole) -> int:
    """Connections the role's process may hold; `up` runs the three pooled roles in one."""
    match role:
        case "api":
            return settings.api_pool_size
        case "gateway":
            return settings.gateway_pool_size
        case "intake":
            return settings.intake_pool_size
        case "dispatcher":
            return settings.dispatcher_pool_size
        case "scheduler":
            return settings.scheduler_pool_size
        case "deliverer":
            return settings.deliverer_pool_size
        case "up":
            pooled: tuple[ProcessRole, ...] = (
                "api",
                "intake",
                "dispatcher",
                "scheduler",
                "deliverer",
            )
            return sum(pool_size(settings, one) for one in pooled)
        case "command":
            return COMMAND_POOL_SIZE


@dataclass(frozen=True)
class Resources:
    """Opened once per process, shared by every part of it that needs them."""

    pool: asyncpg.Pool
    nats: NatsConnection | None
    services: Services


def open_personal_values(settings: Settings) -> SubjectKeys:
    """Install the instance's subject keys for this process's readers (`reveal`): every process
    that reads events into views or answers opens personal values with the keys the store seals
    them by (without them, a view would keep the sealed text)."""
    subject_keys = SubjectKeys(base64.b64decode(resolve_cipher_key(settings)))
    reveal.install(subject_keys)
    return subject_keys


@contextlib.asynccontextmanager
async def open_services(
    settings: Settings,
    database_url: str,
    *,
    pool: asyncpg.Pool | None = None,
    pool_size: int = STORE_POOL_SIZE,
) -> AsyncIterator[Services]:
    """The write side; on `pool` when given (left open), else on a pool of its own."""
    registry = default_registry()
    cipher_key = resolve_cipher_key(settings)
    instance_key = base64.b64decode(cipher_key)
    subject_keys = open_personal_values(settings)
    vault.install(instance_key)
    async with EventStore(
        database_url,
        stream_types=registry.stream_types(),
        max_event_bytes=settings.max_event_bytes,
        max_event_bytes_by_stream_type={"webhook_delivery": MAX_DELIVERY_EVENT_BYTES},
        pool=pool,
        pool_size=pool_size,
        sealer=Sealer(subject_keys),
    ) as store:
        repository = CachingRepository(store, registry, tails=TailReads(store.pool))
        box = KeptSecrets(store.pool, instance_key, SecretBox(cipher_key))
        bus = CommandBus(
            HANDLERS,
            Dependencies(
                repository=repository,
                sealer=box,
                secrets=RandomSecrets(),
                heartbeats=PgHeartbeats(store.pool),
                subjects=PgDataSubjects(store.pool, subject_keys),
                quarantines=ViewQuarantines(store.pool),
                secret_values=PgSecretValues(store.pool, instance_key),
                secret_reader=vault.VaultReader(store.pool),
                webhook_gate=SourceGate(store.pool, box),
            ),
            observer=TelemetryObserver(),
        )
        yield Services(settings=settings, store=store, repository=repository, bus=bus, box=box)


@contextlib.asynccontextmanager
async def open_resources(
    settings: Settings,
    role: ProcessRole,
    database_url: str,
    nats_url: str | None = None,
    *,
    nats_reconnect_wait_s: float = RECONNECT_WAIT_S,
) -> AsyncIterator[Resources]:
    """The pool, NATS when `nats_url` is given, then the write side; closed in reverse.

    Neither server needs to be up: the pool opens empty and NATS keeps trying in the
    background (after waiting a few seconds for it), so /ready can say what is missing.
    """
    async with contextlib.AsyncExitStack() as stack:
        pool = await open_pool(
            database_url, max_size=pool_size(settings, role), timeout=PG_CONNECT_TIMEOUT_S
        )
        stack.push_async_callback(pool.close)
        nats = None
        if nats_url is not None:
            nats = NatsConnection(
                nats_url, name=f"flowledger-{role}", reconnect_wait_s=nats_reconnect_wait_s
            )
            stack.push_async_callback(nats.close)  # drained: what was published gets out
            await nats.start()
        services = await stack.enter_async_context(open_services(settings, database_url, pool=pool))
        yield Resources(pool=pool, nats=nats, services=services)


@contextlib.asynccontextmanager
async def shared_or_own(
    shared: Resources | None, open_own: Callable[[], AbstractAsyncContextManager[Resources]]
) -> AsyncIterator[Resources]:
    """The process's resources when a caller shares them (`up`), else the role's own."""
    if shared is not None:
        yield shared
        return
    async with open_own() as own:
        yield own
