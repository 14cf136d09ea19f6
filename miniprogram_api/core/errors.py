"""The domain's one exception hierarchy.

Domain code raises these with a stable snake_case ``code``; it knows nothing of HTTP. The
API edge maps each *kind* (the base class) to a status code in one place, so a new error
needs no edge change as long as it picks the right kind.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""

    code = "domain_error"
    default_message = "The request could not be completed."

    def __init__(self, message: str | None = None, *, code: str | None = None, details: dict[str, Any] | None = None):
        self.message = message or self.default_message
        if code:
            self.code = code
        self.details = details or {}
        super().__init__(self.message)


class InvalidInput(DomainError):
    """The request is well-formed but its content is wrong (400)."""

    code = "invalid_input"


class Unauthenticated(DomainError):
    """The caller's credential (a shopper's token, a gate's key) is missing or not valid (401)."""

    code = "not_authenticated"


class NotFound(DomainError):
    """The object does not exist or does not belong to the caller (404)."""

    code = "not_found"


class Conflict(DomainError):
    """The object's state does not allow the operation right now (409)."""

    code = "conflict"


class Unprocessable(DomainError):
    """The operation is understood but breaks a business rule (422)."""

    code = "unprocessable"


class RateLimited(DomainError):
    """Too many requests, here or at an upstream provider (429)."""

    code = "rate_limited"


class UpstreamUnavailable(DomainError):
    """A provider (WeChat, a payment platform) is down or did not answer (503)."""

    code = "upstream_unavailable"


class UpstreamError(DomainError):
    """A provider answered with something we cannot use (502)."""

    code = "upstream_error"
