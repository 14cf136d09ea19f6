"""Answering a POST at most once per ``Idempotency-Key``, for every view that creates
something (orders, payments, returns, gift-card orders and transfers, raffle entries).

The view validates its input, then hands the work to ``respond_once``: a retry with the same
key gets the first answer again (marked ``Idempotent-Replayed: true``) and no work is done
twice; see ``miniprogram_api.idempotency.service`` for the rules.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drf_spectacular.utils import OpenApiParameter
from rest_framework.response import Response

from miniprogram_api.idempotency.service import MAX_KEY_LENGTH, run_once

IDEMPOTENCY_KEY = OpenApiParameter(
    name="Idempotency-Key",
    location=OpenApiParameter.HEADER,
    required=False,
    # What the idempotency service accepts (1-128 printable ASCII characters); a header's
    # surrounding spaces are not part of it.
    type={"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": "^[!-~]([ -~]*[!-~])?$"},
    description="Any unique string (e.g. a UUID) per checkout attempt: a retry with the same key returns the first "
    "answer and does no work twice; the same key with another body is refused (422).",
)


def respond_once(request, *, scope: str, payload: Any, work: Callable[[], tuple[int, dict]]) -> Response:
    """Run ``work`` (returning status and body) once for the request's key in ``scope``."""
    answer = run_once(
        customer_id=request.user.pk,
        key=request.headers.get("Idempotency-Key"),
        scope=scope,
        payload=payload,
        work=work,
    )
    response = Response(answer.body, status=answer.status)
    if answer.replayed:
        response["Idempotent-Replayed"] = "true"
    return response
