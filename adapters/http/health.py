"""Liveness (`/health`: the process answers) and readiness (`/ready`: its dependencies do too)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
from litestar import Controller, Response, get
from litestar.datastructures import State
from litestar.openapi import ResponseSpec

from adapters.store.migrations import pending
from projections.catalog import ALL
from projections.status import projection_status

if TYPE_CHECKING:
    import asyncpg

    from adapters.streaming.nats import NatsConnection

CHECK_TIMEOUT_S = 2.0
SERVED = frozenset(projection.name for projection in ALL)


class Health(msgspec.Struct, frozen=True):
    status: str


class Check(msgspec.Struct, frozen=True, omit_defaults=True):
    ok: bool
    error: str | None = None
    pending: list[str] | None = None
    lag_seconds: dict[str, float] | None = None
    """Per projection: how far its view is behind the newest event (projections check only)."""
    failed: list[str] | None = None
    """Projections stopped at a poison event (projections check only)."""
    quarantined: dict[str, int] | None = None
    """Per projection with any: events set aside because a handler failed on them. Reported,
    not failed: such a view still serves every other stream, and its affected rows say
    `degraded` (projections check only)."""


class Readiness(msgspec.Struct, frozen=True):
    status: str
    checks: dict[str, Check]


class HealthController(Controller):
    tags = ["health"]

    @get("/health", operation_id="getHealth", summary="The process is alive")
    async def health(self) -> Health:
        return Health(status="ok")

    @get(
        "/ready",
        operation_id="getReadiness",
        summary="PostgreSQL answers, NATS is connected, no migration is pending and no view "
        "is stopped or lagging beyond FLOWLEDGER_READY_MAX_LAG_S (quarantined events are "
        "reported, and do not make it unready)",
        responses={503: ResponseSpec(Readiness, description="A dependency is not ready")},
    )
    async def ready(self, state: State) -> Response[Readiness]:
        report = await readiness(
            state.pool, state.nats, state.migrations_dir, state.settings.ready_max_lag_s
        )
        return Response(report, status_code=200 if report.status == "ok" else 503)


async def readiness(
    pool: asyncpg.Pool, link: NatsConnection, migrations_dir: Path | None, max_lag_s: float = 0
) -> Readiness:
    """Run every check concurrently, each bounded so a hung dependency cannot hang /ready."""
    postgres, migrations, projections = await asyncio.gather(
        _bounded(_postgres(pool)),
        _bounded(_migrations(pool, migrations_dir)),
        _bounded(_projections(pool, max_lag_s)),
    )
    nats = Check(ok=link.connected)
    if not nats.ok:
        nats = Check(ok=False, error=link.last_error or "not connected")
    checks = {
        "postgres": postgres,
        "nats": nats,
        "migrations": migrations,
        "projections": projections,
    }
    ok = all(check.ok for check in checks.values())
    return Readiness(status="ok" if ok else "unavailable", checks=checks)


async def _postgres(pool: asyncpg.Pool) -> Check:
    await pool.fetchval("SELECT 1")
    return Check(ok=True)


async def _migrations(pool: asyncpg.Pool, migrations_dir: Path | None) -> Check:
    waiting = await pending(pool, migrations_dir)
    return Check(ok=not waiting, pending=waiting)


async def _projections(pool: asyncpg.Pool, max_lag_s: float) -> Check:
    """Views further behind than `max_lag_s` (0: report only), or stopped, fail the check."""
    # Only the views this release serves: a row left by a view since removed lags forever.
    statuses = [s for s in await projection_status(pool) if s.name in SERVED]
    lag = {s.name: round(s.lag_seconds, 3) for s in statuses}
    failed = sorted(s.name for s in statuses if s.state == "failed")
    quarantined = {s.name: s.quarantine.events for s in statuses if s.quarantine}
    behind = max_lag_s > 0 and any(seconds > max_lag_s for seconds in lag.values())
    error = None
    if failed or behind:
        error = f"stopped: {', '.join(failed)}" if failed else f"lagging over {max_lag_s:g}s"
    return Check(
        ok=error is None,
        error=error,
        lag_seconds=lag,
        failed=failed or None,
        quarantined=quarantined or None,
    )


async def _bounded(check: Awaitable[Check]) -> Check:
    try:
        return await asyncio.wait_for(check, CHECK_TIMEOUT_S)
    except TimeoutError:
        return Check(ok=False, error=f"no answer within {CHECK_TIMEOUT_S:g}s")
    except Exception as exc:  # any failure of a dependency is a failed check, not a 500
        return Check(ok=False, error=str(exc) or type(exc).__name__)
