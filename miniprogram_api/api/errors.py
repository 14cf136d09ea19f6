"""The one error shape: ``{"error": {"code", "message", "details"}}``.

``exception_handler`` turns DRF's and the domain's exceptions into it; the middleware
catches what never reaches DRF (unknown URLs, unhandled exceptions) on API paths, so a
client never has to parse an HTML error page, even with DEBUG on.

A database that is down, restarting or out of reach is not a bug: wherever it surfaces
(authentication, a service, the idempotency claim) the answer is 503
``database_unavailable`` with a ``Retry-After``, not a 500, and the client retries.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from miniprogram_api.core import errors as domain

logger = logging.getLogger(__name__)

API_PREFIXES = ("/api/",)

DOMAIN_STATUS: list[tuple[type[domain.DomainError], int]] = [
    (domain.Unauthenticated, status.HTTP_401_UNAUTHORIZED),
    (domain.NotFound, status.HTTP_404_NOT_FOUND),
    (domain.Conflict, status.HTTP_409_CONFLICT),
    (domain.Unprocessable, status.HTTP_422_UNPROCESSABLE_ENTITY),
    (domain.RateLimited, status.HTTP_429_TOO_MANY_REQUESTS),
    (domain.UpstreamUnavailable, status.HTTP_503_SERVICE_UNAVAILABLE),
    (domain.UpstreamError, status.HTTP_502_BAD_GATEWAY),
    (domain.InvalidInput, status.HTTP_400_BAD_REQUEST),
]

DRF_CODES: dict[type[exceptions.APIException], str] = {
    exceptions.ParseError: "malformed_request",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
}


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def status_for(exc: domain.DomainError) -> int:
    for kind, code in DOMAIN_STATUS:
        if isinstance(exc, kind):
            return code
    return status.HTTP_400_BAD_REQUEST


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if database_unavailable(exc):
        _log_database_unavailable(context["request"], exc)
        code, message = DATABASE_UNAVAILABLE
        details = {"retry_after_seconds": DATABASE_RETRY_AFTER_SECONDS}
        return Response(
            error_body(code, message, details),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, domain.DomainError):
        response = Response(error_body(exc.code, exc.message, exc.details), status=status_for(exc))
        retry_after = exc.details.get("retry_after_seconds")
        if isinstance(exc, domain.RateLimited) and retry_after is not None:
            response["Retry-After"] = str(retry_after)
        return response
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)  # sets Retry-After, WWW-Authenticate
    if response is None or not isinstance(exc, exceptions.APIException):
        return None  # a bug: let it become a 500, which the middleware renders

    if isinstance(exc, exceptions.ValidationError):
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = error_body("validation_error", "The request has invalid fields.", details)
        return response

    code = _code_for(exc)
    details: dict[str, Any] = {}
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        details["retry_after_seconds"] = int(exc.wait + 0.999)
    response.data = error_body(code, str(exc.detail), details)
    return response


def _code_for(exc: exceptions.APIException) -> str:
    if isinstance(exc, exceptions.AuthenticationFailed):
        codes = exc.get_codes()
        if isinstance(codes, str) and codes != "authentication_failed":
            return codes
    for kind, code in DRF_CODES.items():
        if isinstance(exc, kind):
            return code
    return "error"


# Django's own error pages (not DRF's), by status, as they appear on API paths.
DJANGO_ERROR_CODES = {
    400: ("bad_request", "The request could not be understood."),
    403: ("permission_denied", "You may not do that."),
    404: ("not_found", "No such endpoint or object."),
    405: ("method_not_allowed", "Method not allowed on this endpoint."),
    413: ("request_too_large", "The request body is too large."),
}
SERVER_ERROR = ("server_error", "Something went wrong on our side.")
KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")
DATABASE_UNAVAILABLE = ("database_unavailable", "The service is briefly unavailable; try again in a moment.")
DATABASE_RETRY_AFTER_SECONDS = 2
# PostgreSQL's SQLSTATEs for "the server is not there for you": class 08 (connection
# exception), 57P01 admin_shutdown (a fast shutdown or restart ended the session), 57P02
# crash_shutdown, 57P03 cannot_connect_now (shutting down or starting up).
PG_UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03")
# SQLite's "database is locked" once its busy timeout ran out: the database is busy, not broken.
SQLITE_UNAVAILABLE_ERRORS = ("SQLITE_BUSY", "SQLITE_LOCKED")


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database could not be reached or dropped the connection
    (worth retrying), as opposed to a query it refused (a bug, still a 500): a deadlock,
    a missing table or a constraint are not "unavailable"."""
    if isinstance(exc, InterfaceError):  # Django's "connection already closed"
        return True
    if not isinstance(exc, OperationalError):
        return False
    cause = exc.__cause__  # the driver's own error, which Django wraps
    if hasattr(cause, "sqlite_errorname"):
        return cause.sqlite_errorname in SQLITE_UNAVAILABLE_ERRORS
    sqlstate = getattr(cause, "sqlstate", None)
    # psycopg gives no SQLSTATE when no server answered at all (refused, reset, timed out).
    return sqlstate is None or sqlstate.startswith(PG_UNAVAILABLE_SQLSTATES)


def _log_database_unavailable(request, exc: BaseException) -> None:
    # One line per request, no traceback: during an outage every request logs this.
    logger.error("Database unavailable on %s %s: %s", request.method, request.path, str(exc).strip()[:300])


class ApiErrorMiddleware:
    """Render Django's own error pages on API paths in the error shape.

    DRF renders its errors itself; what is left are the responses Django makes before or
    around a view: an unknown URL (404), a Host not in ALLOWED_HOSTS (400), a plain view's
    wrong method (405), an unhandled exception (500). Each would be an HTML page.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            request.path.startswith(API_PREFIXES)
            and response.status_code >= 400
            and not hasattr(response, "accepted_renderer")  # DRF's own: already the shape
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            return _reshape(response)
        return response

    def process_exception(self, request, exception):
        if not request.path.startswith(API_PREFIXES):
            return None
        if isinstance(exception, Http404):
            return JsonResponse(error_body(*DJANGO_ERROR_CODES[404]), status=404)
        if database_unavailable(exception):  # raised outside DRF (a plain view)
            _log_database_unavailable(request, exception)
            code, message = DATABASE_UNAVAILABLE
            response = JsonResponse(
                error_body(code, message, {"retry_after_seconds": DATABASE_RETRY_AFTER_SECONDS}), status=503
            )
            response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
            return response
        logger.exception("Unhandled error on %s %s", request.method, request.path)
        return JsonResponse(error_body(*SERVER_ERROR), status=500)


def _reshape(response) -> JsonResponse:
    status_code = response.status_code
    if status_code >= 500:
        code, message = SERVER_ERROR
    else:
        code, message = DJANGO_ERROR_CODES.get(status_code, ("error", response.reason_phrase or "Request failed."))
    reshaped = JsonResponse(error_body(code, message), status=status_code)
    for header in KEPT_HEADERS:
        if header in response:
            reshaped[header] = response[header]
    return reshaped
