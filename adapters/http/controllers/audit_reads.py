"""The audit read routes, in one list for the composition root."""

from adapters.http.controllers import audit_events, audit_history, audit_state

AUDIT_READ_ROUTES = [*audit_history.HANDLERS, *audit_state.HANDLERS, *audit_events.HANDLERS]
