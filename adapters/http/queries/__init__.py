"""The query API: GET endpoints over the projected views, with read-your-writes.

Plain route handlers, not Controllers: litestar 2 cannot merge two Controllers that share a
path (their automatic OPTIONS handlers clash), and these GETs share paths with the commands'.
Registered after the command controllers, each merges into the existing route.
"""

from adapters.http.queries import admin, analytics, pipelines, runners, runs, status

QUERY_ROUTES = [
    *pipelines.HANDLERS,
    *runs.HANDLERS,
    *analytics.HANDLERS,
    *admin.HANDLERS,
    *status.HANDLERS,
    *runners.HANDLERS,
]
