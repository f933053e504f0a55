"""Prometheus metrics: counters the roles bump as they work, gauges read from PostgreSQL at scrape.

Each process keeps its own counters (in `flowledger up` that is every role). The lag gauges are
read from the database when scraped (adapters.telemetry.lag), so any API process reports every
projector's and relay's lag, wherever those run.
"""

from __future__ import annotations

import functools
from bisect import bisect_left
from collections.abc import Callable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.metrics import MetricWrapperBase

HTTP_REQUESTS = Counter(
    "flowledger_http_requests_total",
    "HTTP requests answered, by method, route template and status.",
    ["method", "path", "status_code"],
)
HTTP_SECONDS = Histogram(
    "flowledger_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ["method", "path"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
COMMANDS = Counter(
    "flowledger_commands_total",
    "Commands handled, by command and outcome (ok, rejected, conflict, error).",
    ["command", "outcome"],
)
COMMAND_SECONDS = Histogram(
    "flowledger_command_duration_seconds",
    "Time to handle one command: load, decide, append.",
    ["command"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
EVENTS_APPENDED = Counter(
    "flowledger_events_appended_total", "Events appended to the store, by event type.", ["type"]
)
APPEND_BATCH_SIZE = Histogram(
    "flowledger_append_batch_events",
    "Events written by one group-commit call to the store.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
)
PROJECTION_POSITION = Gauge(
    "flowledger_projection_position", "Last event position applied, per projection.", ["projection"]
)
PROJECTION_LAG_EVENTS = Gauge(
    "flowledger_projection_lag_events", "Events committed but not yet applied.", ["projection"]
)
PROJECTION_LAG_SECONDS = Gauge(
    "flowledger_projection_lag_seconds",
    "Recorded time of the head event minus that of the last one applied.",
    ["projection"],
)
DATABASE_UP = Gauge("flowledger_database_up", "1 if the last scrape could read PostgreSQL, else 0.")
EVENT_HEAD = Gauge("flowledger_event_head_position", "Position of the last committed event.")
RELAY_POSITION = Gauge(
    "flowledger_relay_position", "Last event position published to JetStream.", ["stream"]
)
RELAY_LAG_EVENTS = Gauge(
    "flowledger_relay_lag_events", "Events committed but not yet published.", ["stream"]
)
RELAY_PUBLISHED = Counter(
    "flowledger_relay_published_total", "Events the relay published to JetStream."
)
WEBSOCKET_CONNECTIONS = Gauge(
    "flowledger_websocket_connections", "Open WebSocket connections, by endpoint.", ["endpoint"]
)
WEBSOCKET_MESSAGES = Counter(
    "flowledger_websocket_messages_total", "Event messages sent to WebSocket clients."
)
WEBSOCKET_SLOW_CONSUMERS = Counter(
    "flowledger_websocket_slow_consumers_total",
    "WebSocket clients closed because they could not keep up.",
)
WEBHOOK_DELIVERIES = Counter(
    "flowledger_webhook_deliveries_total",
    "Webhook deliveries received, by source kind and outcome "
    "(accepted, duplicate, bad_signature, rejected).",
    ["source", "outcome"],
)
WEBHOOK_REFUSALS = Counter(
    "flowledger_webhook_refusals_total",
    "Webhook deliveries refused for their signature, by source kind and reason.",
    ["source", "reason"],
)
QUEUE_EVENTS = Counter(
    "flowledger_queue_events_total",
    "Jobs flagged `waiting_for_runner` (no live runner has their label) and jobs failed "
    "`no_runner` (their queue timeout expired).",
    ["event"],
)
RUNNER_JOBS = Counter(
    "flowledger_runner_jobs_total",
    "Step attempts reported finished by runners, by outcome.",
    ["outcome"],
)


def exposition() -> tuple[bytes, str]:
    """The Prometheus text exposition of every metric in this process, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


@functools.lru_cache(maxsize=4096)
def labelled(metric: MetricWrapperBase, *values: str) -> Any:
    """`metric.labels(*values)`, kept: labels() takes a lock and builds a key on every call.

    The label values are routes, statuses, command names and outcomes: a bounded set.
    """
    return metric.labels(*values)


@functools.lru_cache(maxsize=4096)
def counted(counter: Counter, *values: str) -> _Cell:
    """The value of `counter.labels(*values)`, to bump with `.value += n`: what inc() does, in
    no call at all (inc is three frames and a lock, ~3,000 instructions, on every request and
    every command). Only for metrics bumped on the event loop's thread, as the request and
    command counts are: every role of a process shares that one loop, so no bump is lost."""
    return _own_cell(labelled(counter, *values), "_value")


@functools.lru_cache(maxsize=4096)
def observed(histogram: Histogram, *values: str) -> Callable[[float], None]:
    """What `histogram.labels(*values).observe` does, in one call (see `counted`)."""
    return _Observe(labelled(histogram, *values))


class _Cell:
    """A child's value as prometheus_client's MutexValue keeps it, with the same methods (the
    exposition reads it through them), without the lock: see `counted`."""

    __slots__ = ("_exemplar", "value")

    def __init__(self, value: float) -> None:
        self.value = value
        self._exemplar: Any = None

    def inc(self, amount: float) -> None:
        self.value += amount

    def set(self, value: float, timestamp: float | None = None) -> None:
        self.value = value

    def get(self) -> float:
        return self.value

    def set_exemplar(self, exemplar: Any) -> None:
        self._exemplar = exemplar

    def get_exemplar(self) -> Any:
        return self._exemplar


def _own_cell(holder: Any, name: str, index: int | None = None) -> _Cell:
    """The child's value at `holder.name` (or `holder.name[index]`), made a _Cell once."""
    found = getattr(holder, name) if index is None else getattr(holder, name)[index]
    if isinstance(found, _Cell):
        return found
    cell = _Cell(found.get())
    if index is None:
        setattr(holder, name, cell)
    else:
        getattr(holder, name)[index] = cell
    return cell


class _Observe:
    """Histogram.observe without its checks and its bucket-by-bucket walk: the first bucket
    whose bound is >= the amount, as that walk finds it (the last bound is +Inf)."""

    __slots__ = ("_bounds", "_buckets", "_sum")

    def __init__(self, child: Histogram) -> None:
        self._bounds: list[float] = child._upper_bounds  # type: ignore[attr-defined]
        buckets = range(len(self._bounds))
        self._buckets = [_own_cell(child, "_buckets", i) for i in buckets]
        self._sum = _own_cell(child, "_sum")

    def __call__(self, amount: float) -> None:
        self._sum.value += amount
        self._buckets[bisect_left(self._bounds, amount)].value += 1
