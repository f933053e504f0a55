"""The query routes: GET endpoints over the projected views, with read-your-writes.

Plain route handlers, not Controllers: litestar 2 cannot merge two Controllers that share a
path (their automatic OPTIONS handlers clash), and these GETs share paths with the commands'.
Registered after the command controllers, each merges into the existing route.
"""

from adapters.http.reads import (
    admin,
    analytics,
    artifacts,
    environments,
    notification_rules,
    pipeline_files,
    pipelines,
    projections,
    queues,
    runners,
    runs,
    schemas,
    secrets,
    status,
    subscriptions,
    usage,
    visualization,
    webhook_deliveries,
)

ROUTES = [
    *projections.ROUTES,
    *pipelines.ROUTES,
    *runs.ROUTES,
    *artifacts.ROUTES,
    *analytics.ROUTES,
    *admin.ROUTES,
    *status.ROUTES,
    *runners.ROUTES,
    *queues.ROUTES,
    *webhook_deliveries.ROUTES,
    *visualization.ROUTES,
    *subscriptions.ROUTES,
    *usage.ROUTES,
    *environments.ROUTES,
    *secrets.ROUTES,
    *schemas.ROUTES,
    *notification_rules.ROUTES,
    *pipeline_files.ROUTES,
]
