"""Which provider serves which payment method."""

from __future__ import annotations

from .base import PaymentProvider


def get_provider(name: str) -> PaymentProvider:
    if name == "wechat_pay":
        from .wechatpay import WeChatPay

        return WeChatPay.from_settings()
    if name == "alipay":
        from .alipay import Alipay

        return Alipay.from_settings()
    raise ValueError(f"unknown payment provider {name!r}")
