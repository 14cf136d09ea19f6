"""What happens outside the API calls, played on demand by the demo and by tests.

``POST /sandbox/payments/{out_trade_no}/confirm``: the shopper confirms on the phone.
Whichever provider sandbox holds the trade marks it paid and sends its notification. A
provider's result carrying ``"error"`` (e.g. the trade is closed and cannot be paid) is a 409.

``POST /sandbox/refunds/{out_refund_no}/complete`` (optional JSON ``{"status": "SUCCESS" |
"CLOSED" | "ABNORMAL"}``, default SUCCESS): WeChat Pay finishes a PROCESSING refund and
sends its notification, for runs with ``SANDBOX_REFUND_SECONDS`` negative (refunds wait
for this) or to rehearse a failed refund. Alipay refunds finish within the refund call,
so for one of those it only answers how it stands. 404 for a refund neither sandbox
holds; 409 when the refund is already final with another status.
"""

from __future__ import annotations

import json

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import alipay, wechatpay, wechatpay_refunds
from .alipay_models import AlipayRefund


@csrf_exempt
@require_POST
def confirm_payment(request, out_trade_no: str):
    for provider in (wechatpay, alipay):
        result = provider.confirm_trade(out_trade_no)
        if result is not None:
            return JsonResponse(result, status=409 if result.get("error") else 200)
    return JsonResponse({"error": "no such trade"}, status=404)


@csrf_exempt
@require_POST
def complete_refund(request, out_refund_no: str):
    try:
        options = json.loads(request.body or b"{}")
    except ValueError:
        return JsonResponse({"error": "the body is not JSON"}, status=400)
    status = options.get("status", "SUCCESS") if isinstance(options, dict) else None
    if status not in wechatpay_refunds.FINAL:
        return JsonResponse({"error": f"status must be one of {', '.join(wechatpay_refunds.FINAL)}"}, status=400)
    result = wechatpay_refunds.complete_refund(out_refund_no, status=status)
    if result is None:
        refund = AlipayRefund.objects.filter(out_request_no=out_refund_no).order_by("pk").first()
        if refund is None:
            return JsonResponse({"error": "no such refund"}, status=404)
        result = {"provider": "alipay", "out_refund_no": out_refund_no, "refund_status": "REFUND_SUCCESS"}
        if status != "SUCCESS":
            result["error"] = "Alipay refunds succeed within the refund call"
    return JsonResponse(result, status=409 if result.get("error") else 200)
