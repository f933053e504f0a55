"""The audit routes: history, past states, the global feed and traces, chain verification."""

from adapters.http.audit import events, history, state, verify

ROUTES = [*history.ROUTES, *state.ROUTES, *events.ROUTES, *verify.ROUTES]
