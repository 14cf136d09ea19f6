"""The courier webhook's signature: HMAC-SHA256 of ``"<timestamp>.<raw body>"`` with the
shared ``COURIER_WEBHOOK_SECRET``, hex in ``X-Courier-Signature``, the Unix timestamp (in
seconds) in ``X-Courier-Timestamp``.

Signing the timestamp with the body lets us refuse a captured request replayed later: a
signature older (or further ahead) than ``COURIER_WEBHOOK_TOLERANCE`` is refused even if
it is genuine. Within the window a replay is harmless, as each event is applied once by
its ``event_id``. Signatures are compared in constant time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

from miniprogram_api.core.errors import Unauthenticated

TIMESTAMP_HEADER = "X-Courier-Timestamp"
SIGNATURE_HEADER = "X-Courier-Signature"


class CourierNotAuthenticated(Unauthenticated):
    code = "courier_not_authenticated"
    default_message = f"Sign the request: {TIMESTAMP_HEADER} and {SIGNATURE_HEADER} headers."


class InvalidCourierSignature(Unauthenticated):
    code = "invalid_courier_signature"
    default_message = "The request's signature does not match its body and timestamp."


class StaleCourierSignature(Unauthenticated):
    """Signed too long ago (or ahead): a replay, or a sender whose clock is off."""

    code = "stale_courier_signature"
    default_message = "The request's timestamp is outside the accepted window."


def sign(*, secret: str, timestamp: int, body: bytes) -> str:
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(
    *,
    secret: str,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: dt.datetime,
    tolerance: dt.timedelta,
) -> int:
    """Return the signed timestamp, or raise one of the errors above."""
    if not timestamp or not signature:
        raise CourierNotAuthenticated()
    stamp = timestamp.strip()
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
        raise InvalidCourierSignature(details={"reason": "timestamp"})
    given = signature.strip().lower()
    expected = sign(secret=secret, timestamp=int(stamp), body=body)
    if not given.isascii() or not hmac.compare_digest(expected, given):
        raise InvalidCourierSignature()
    signed_at = int(stamp)
    if abs(now.timestamp() - signed_at) > tolerance.total_seconds():
        raise StaleCourierSignature(details={"tolerance_seconds": int(tolerance.total_seconds())})
    return signed_at
