"""A request's server span, offered to the command it runs so that both record on one span."""

from __future__ import annotations

from contextvars import ContextVar, Token

from opentelemetry import trace

_request_root: ContextVar[trace.Span | None] = ContextVar("flowledger_request_root", default=None)


def take_request_span(active: trace.Span | None = None) -> trace.Span | None:
    """The request's recording server span when it is the active one and no command has taken
    it yet; then it is taken. A command run for a request records on that span instead of a
    child of nearly the same extent and no more to say (one SDK span and its export fewer).
    `active` is the active span, when the caller has it at hand."""
    root = _request_root.get()
    if root is None or (active or trace.get_current_span()) is not root:
        return None
    _request_root.set(None)
    return root


def offer_request_span(current: trace.Span) -> Token[trace.Span | None]:
    """While a request's server span is active: there for its command to take (if recording).
    The token withdraws the offer (`withdraw_request_span`) when the request's span ends."""
    return _request_root.set(current if current.is_recording() else None)


def withdraw_request_span(token: Token[trace.Span | None]) -> None:
    _request_root.reset(token)
