"""``POST /sandbox/payments/{out_trade_no}/confirm``: the shopper confirms on the phone.

Whichever provider sandbox holds the trade marks it paid and sends its notification. A
provider's result carrying ``"error"`` (e.g. the trade is closed and cannot be paid) is a 409.
"""

from __future__ import annotations

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import alipay, wechatpay


@csrf_exempt
@require_POST
def confirm_payment(request, out_trade_no: str):
    for provider in (wechatpay, alipay):
        result = provider.confirm_trade(out_trade_no)
        if result is not None:
            return JsonResponse(result, status=409 if result.get("error") else 200)
    return JsonResponse({"error": "no such trade"}, status=404)
