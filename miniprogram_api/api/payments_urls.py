"""``/api/payments/``: the providers' notification endpoints (no bearer token: signed)."""

from django.urls import path

from . import payment_notify_views

urlpatterns = [
    path("wechatpay/notify", payment_notify_views.wechatpay_notify, name="wechatpay-notify"),
    path("alipay/notify", payment_notify_views.alipay_notify, name="alipay-notify"),
]
