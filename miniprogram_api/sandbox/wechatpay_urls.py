"""``/sandbox/wechatpay/``: WeChat Pay API v3's paths, as on https://api.mch.weixin.qq.com."""

from django.urls import path

from . import wechatpay, wechatpay_refunds

urlpatterns = [
    path("v3/pay/transactions/jsapi", wechatpay.jsapi_create),
    path("v3/pay/transactions/out-trade-no/<str:out_trade_no>", wechatpay.query_by_out_trade_no),
    path("v3/pay/transactions/out-trade-no/<str:out_trade_no>/close", wechatpay.close),
    path("v3/refund/domestic/refunds", wechatpay_refunds.create_refund),
    path("v3/refund/domestic/refunds/<str:out_refund_no>", wechatpay_refunds.query_refund),
]
