"""WeChat Pay trades as the sandbox's WeChat Pay keeps them."""

from __future__ import annotations

from django.db import models

__all__ = ["WeChatPayTrade"]


class WeChatPayTrade(models.Model):
    """One JSAPI order, from ``/v3/pay/transactions/jsapi`` until paid or closed.

    ``create_params`` is the order request as received, so a repeated create can be told
    apart: identical parameters get the same prepay_id, different ones are refused.
    """

    class TradeState(models.TextChoices):
        NOTPAY = "NOTPAY", "Not paid"
        SUCCESS = "SUCCESS", "Paid"
        CLOSED = "CLOSED", "Closed"

    mchid = models.CharField(max_length=32)
    out_trade_no = models.CharField(max_length=32)
    appid = models.CharField(max_length=32)
    prepay_id = models.CharField(max_length=64, unique=True)
    description = models.CharField(max_length=127)
    amount_fen = models.PositiveIntegerField(help_text="amount.total")
    currency = models.CharField(max_length=8, default="CNY")
    payer_openid = models.CharField(max_length=128)
    notify_url = models.CharField(max_length=256)
    time_expire = models.DateTimeField(null=True, blank=True)
    create_params = models.JSONField(default=dict)
    trade_state = models.CharField(max_length=16, choices=TradeState.choices, default=TradeState.NOTPAY)
    transaction_id = models.CharField(max_length=32, blank=True)
    success_time = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    notify_attempts = models.PositiveIntegerField(default=0)
    notified_at = models.DateTimeField(null=True, blank=True, help_text="When the merchant acknowledged.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["mchid", "out_trade_no"], name="sandbox_wechatpay_trade_unique_out_trade_no"
            )
        ]

    def __str__(self) -> str:
        return f"{self.out_trade_no} ({self.trade_state})"
