"""Running a request at most once per ``Idempotency-Key``.

The key is claimed in its own committed row *before* the work starts, so a retry that
arrives while the first request is still running sees it (and gets 409) instead of doing
the work twice. A finished request's response is stored and replayed. Failures that ask
the client to retry (5xx: a provider was down) release the key so the retry can run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from miniprogram_api.core import clock
from miniprogram_api.core.errors import Conflict, InvalidInput, Unprocessable

from .models import IdempotencyRecord

MAX_KEY_LENGTH = 128
# A claim never completed this long after it was made belongs to a request that died
# (a killed worker, a lost connection): a retry may take it over instead of hearing
# "in progress" forever. Longer than any request we serve.
STALE_CLAIM = dt.timedelta(minutes=2)
KEEP_RECORDS = dt.timedelta(days=1)


class InvalidIdempotencyKey(InvalidInput):
    code = "invalid_idempotency_key"
    default_message = "Idempotency-Key must be 1-128 printable ASCII characters."


class IdempotencyKeyReused(Unprocessable):
    code = "idempotency_key_reused"
    default_message = "This Idempotency-Key was already used for a different request."


class RequestInProgress(Conflict):
    code = "request_in_progress"
    default_message = "A request with this Idempotency-Key is still being processed; retry shortly."


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: Any
    replayed: bool


def request_fingerprint(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def run_once(
    *,
    customer_id: int,
    key: str | None,
    scope: str,
    payload: Any,
    work: Callable[[], tuple[int, Any]],
) -> StoredResponse:
    """Run ``work`` (returning status and JSON body) once for this key; replay it after.

    Without a key the work simply runs. An exception from ``work`` releases the key, so
    the retry runs again: services are written so that re-running after a partial failure
    resumes rather than repeats (a frozen basket resumes its pending order).
    """
    if key is None:
        status, body = work()
        return StoredResponse(status=status, body=body, replayed=False)
    if not key or len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise InvalidIdempotencyKey()

    fingerprint = request_fingerprint(payload)
    record = _claim(customer_id=customer_id, key=key, scope=scope, fingerprint=fingerprint)
    if isinstance(record, StoredResponse):
        return record

    try:
        status, body = work()
    except Exception:
        IdempotencyRecord.objects.filter(pk=record.pk).delete()
        raise
    if status >= 500:
        IdempotencyRecord.objects.filter(pk=record.pk).delete()
    else:
        IdempotencyRecord.objects.filter(pk=record.pk).update(
            response_status=status, response_body=body, completed_at=clock.now()
        )
    return StoredResponse(status=status, body=body, replayed=False)


def _claim(*, customer_id: int, key: str, scope: str, fingerprint: str) -> IdempotencyRecord | StoredResponse:
    for _ in range(2):
        try:
            with transaction.atomic():
                return IdempotencyRecord.objects.create(
                    customer_id=customer_id, key=key, scope=scope, request_hash=fingerprint
                )
        except IntegrityError:
            existing = IdempotencyRecord.objects.filter(customer_id=customer_id, scope=scope, key=key).first()
            if existing is None:
                continue  # released a moment ago: claim it
            if existing.request_hash != fingerprint:
                raise IdempotencyKeyReused() from None
            if existing.completed_at is not None:
                return StoredResponse(status=existing.response_status, body=existing.response_body, replayed=True)
            if existing.created_at > clock.now() - STALE_CLAIM:
                raise RequestInProgress() from None
            IdempotencyRecord.objects.filter(pk=existing.pk, completed_at__isnull=True).delete()
    raise RequestInProgress()


def purge_old_records() -> int:
    """Keys are for retries, which come within minutes; a day is plenty."""
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=clock.now() - KEEP_RECORDS).delete()
    return deleted
