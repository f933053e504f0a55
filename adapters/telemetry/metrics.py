"""Prometheus metrics: counters the roles bump as they work, gauges read from PostgreSQL at scrape.

Each process keeps its own counters (in `flowledger up` that is every role). The lag gauges are
read from the database when scraped (adapters.telemetry.lag), so any API process reports every
projector's and relay's lag, wherever those run.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

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
