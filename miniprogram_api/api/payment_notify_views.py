"""Where WeChat Pay and Alipay tell us about trades and refunds.

These endpoints speak the providers' protocols, not our API's: WeChat Pay wants 204 (or
200) for "received" and a 4xx/5xx with ``{"code": "FAIL", "message": ...}`` to retry;
Alipay wants the plain text ``success`` and retries on anything else. A notification that
fails verification, names an unknown trade or refund, or carries the wrong amount changes
nothing and is logged; one that arrives again after the order is paid (or the refund
recorded) is acknowledged and ignored.

Both kinds arrive at the same URL per provider: WeChat Pay tells them apart by the
resource's ``original_type``, Alipay by the refund fields of its ``trade_status_sync``;
``parse_notification`` returns a ``TradeStatus`` or a ``RefundStatus`` accordingly.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from checkout import settlement
from checkout.payments.base import InvalidNotification, RefundStatus
from checkout.payments.providers import get_provider

logger = logging.getLogger(__name__)


class _Refused(Exception):
    """Verified, but not ours to apply (unknown trade or refund, wrong amount): the
    provider is told to try again later, and nothing was written."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def _apply(provider_name: str, request) -> None:
    provider = get_provider(provider_name)
    status = provider.parse_notification(headers=request.headers, body=request.body)
    if isinstance(status, RefundStatus):
        from checkout import refunds  # the refunds service; only refund notifications need it

        try:
            refunds.apply_refund_status(provider=provider_name, status=status, source="notification")
        except (refunds.UnknownRefund, refunds.RefundAmountMismatch) as exc:
            raise _Refused(exc.code) from exc
        return
    try:
        settlement.apply_trade_status(provider=provider_name, status=status, source="notification")
    except (settlement.UnknownTrade, settlement.AmountMismatch) as exc:
        raise _Refused(exc.code) from exc


@csrf_exempt
@require_POST
def wechatpay_notify(request):
    try:
        _apply("wechat_pay", request)
    except InvalidNotification as exc:
        logger.warning("rejected a WeChat Pay notification: %s", exc.message)
        return JsonResponse({"code": "FAIL", "message": "invalid notification"}, status=401)
    except _Refused as exc:
        return JsonResponse({"code": "FAIL", "message": exc.code}, status=400)
    except DatabaseError:
        logger.exception("could not record a WeChat Pay notification; WeChat will retry")
        return JsonResponse({"code": "FAIL", "message": "try again"}, status=500)
    return HttpResponse(status=204)


@csrf_exempt
@require_POST
def alipay_notify(request):
    try:
        _apply("alipay", request)
    except InvalidNotification as exc:
        logger.warning("rejected an Alipay notification: %s", exc.message)
        return HttpResponse("failure", content_type="text/plain")
    except _Refused:
        return HttpResponse("failure", content_type="text/plain")
    except DatabaseError:
        logger.exception("could not record an Alipay notification; Alipay will retry")
        return HttpResponse("failure", content_type="text/plain")
    return HttpResponse("success", content_type="text/plain")
