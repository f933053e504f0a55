"""Every error becomes an RFC 9457 problem with a stable `code`: the one exception mapper."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import asyncpg
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    ImproperlyConfiguredException,
    InternalServerException,
    SerializationException,
    ValidationException,
)
from litestar.plugins.problem_details import ProblemDetailsConfig, ProblemDetailsException
from litestar.types import ExceptionHandlersMap

from adapters.audit.errors import AuditNotFound
from adapters.store import (
    AppendOutcomeUnknown,
    EventTooLarge,
    IdempotencyKeyReused,
    InvalidAppend,
    StoreUnavailable,
)
from adapters.telemetry.http import ensure_request_id
from commands.context import Forbidden
from commands.ports import VersionConflict
from domain.errors import (
    AggregateNotFound,
    AttemptMismatch,
    DomainError,
    IllegalTransition,
    InvalidValue,
    RunnerNotActive,
    UnknownPipelineVersion,
)
from domain.registry import RegistryError

log = logging.getLogger(__name__)

_CODES_BY_STATUS = {
    400: "bad_request",
    401: "credentials_missing",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "rate_limited",
    500: "internal",
    503: "dependency_unavailable",
}


def problem(
    status: int, code: str, title: str, detail: str = "", **extra: Any
) -> ProblemDetailsException:
    return ProblemDetailsException(
        status_code=status, title=title, detail=detail or title, extra={"code": code, **extra}
    )


def problem_of(exc: HTTPException) -> ProblemDetailsException:
    """The problem an HTTPException is answered with (its `code` from `extra`, else its status)."""
    return _http(exc)


def _http(exc: HTTPException) -> ProblemDetailsException:
    extra = exc.extra if isinstance(exc.extra, dict) else {}
    code = extra.get("code") or _CODES_BY_STATUS.get(exc.status_code, "error")
    title = exc.detail
    if exc.status_code == 400 and isinstance(exc.__cause__, SerializationException):
        code, title = "malformed_json", "malformed JSON"
    return ProblemDetailsException(
        status_code=exc.status_code,
        title=title,
        detail=exc.detail,
        extra={**extra, "code": code},
        headers=exc.headers,
    )


def _validation(exc: ValidationException) -> ProblemDetailsException:
    # litestar says 400 for a body it could not decode; the API promises 422 naming the field.
    errors = exc.extra if isinstance(exc.extra, list) else []
    status = 413 if "too large" in (exc.detail or "").lower() else 422
    # The first field past its limit, as InvalidValue names one: clients read one key.
    named = [e["key"] for e in errors if isinstance(e, dict) and e.get("key")]
    extra = {"field": named[0]} if named else {}
    return problem(
        status, _CODES_BY_STATUS[status], "invalid input", exc.detail, errors=errors, **extra
    )


def _domain(exc: DomainError) -> ProblemDetailsException:
    match exc:
        case AggregateNotFound() | UnknownPipelineVersion():
            return problem(404, exc.code, "not found", str(exc))
        case IllegalTransition():
            return problem(
                409,
                exc.code,
                "illegal transition",
                str(exc),
                current_state=exc.current_state,
                attempted=exc.attempted,
            )
        case InvalidValue():
            return problem(422, exc.code, "invalid value", str(exc), field=exc.field)
        case AttemptMismatch():
            # A stale runner: the attempt it reports on is no longer the step's current one.
            return problem(409, exc.code, "stale attempt", str(exc), current_attempt=exc.current)
        case RunnerNotActive():
            return problem(409, exc.code, "runner not active", str(exc), runner_status=exc.status)
        case _:
            return problem(422, exc.code, "refused by the domain", str(exc))


def _dependency_down(exc: Exception) -> ProblemDetailsException:
    log.warning("dependency unavailable: %s", exc)
    message = str(exc) if isinstance(exc, AppendOutcomeUnknown) else "the database is unavailable"
    return ProblemDetailsException(
        status_code=503,
        title="dependency unavailable",
        detail=message,
        extra={"code": getattr(exc, "code", "dependency_unavailable")},
        headers={"Retry-After": "1"},
    )


def _invalid_append(exc: InvalidAppend) -> ProblemDetailsException:
    status = 413 if isinstance(exc, EventTooLarge) else 422
    return problem(status, exc.code, "invalid input", str(exc))


MAPPERS: dict[type[Exception], Callable[[Any], ProblemDetailsException]] = {
    HTTPException: _http,
    ValidationException: _validation,
    DomainError: _domain,
    RegistryError: lambda e: problem(422, "invalid_event", "invalid input", str(e)),
    AuditNotFound: lambda e: problem(404, e.code, "not found", str(e)),
    VersionConflict: lambda e: problem(409, "version_conflict", "version conflict", str(e)),
    Forbidden: lambda e: problem(403, e.code, "forbidden", str(e)),
    IdempotencyKeyReused: lambda e: problem(422, e.code, "idempotency key reused", str(e)),
    InvalidAppend: _invalid_append,
    AppendOutcomeUnknown: _dependency_down,
    StoreUnavailable: _dependency_down,
    asyncpg.PostgresConnectionError: _dependency_down,
    # 57xxx: the server is starting, shutting down or was restarted under us (not a bug).
    asyncpg.exceptions.OperatorInterventionError: _dependency_down,
    # A connection killed mid-operation can leave asyncpg's protocol in a state it refuses.
    asyncpg.exceptions.InternalClientError: _dependency_down,
    asyncpg.InterfaceError: _dependency_down,
    ConnectionError: _dependency_down,
    OSError: _dependency_down,
}


def problem_details_config() -> ProblemDetailsConfig:
    return ProblemDetailsConfig(
        enable_for_all_http_exceptions=True, exception_to_problem_detail_map=MAPPERS
    )


def internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """What nothing above maps (a bug): a problem carrying the request id, and the one log line.

    The only place such an exception is logged: litestar logs nothing (the app has no
    logging config of its own) and the server sees an answered request.
    """
    rid = ensure_request_id(request.scope)
    route = request.scope.get("path_template") or request.scope.get("path", "")
    method = request.scope.get("method", "")
    log.error(
        "unhandled %s in %s %s (request %s)",
        type(exc).__name__,
        method,
        route,
        rid,
        exc_info=exc,
        extra={"route": route, "method": method, "request_id": rid},
    )
    answer = problem(
        500,
        "internal",
        "internal server error",
        f"an unexpected error; it is logged under request id {rid}",
        request_id=rid,
    )
    return answer.to_response(request)


def exception_handlers() -> ExceptionHandlersMap:
    """Handlers for what the problem details mappers leave: every other exception is a 500.

    litestar's own 500s are HTTPExceptions, which the plugin would answer unlogged.
    """
    return {
        Exception: internal_error,
        InternalServerException: internal_error,
        ImproperlyConfiguredException: internal_error,
    }
