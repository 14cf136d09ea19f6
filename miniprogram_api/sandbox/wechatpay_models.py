"""WeChat Pay trades and refunds as the sandbox's WeChat Pay keeps them."""

from __future__ import annotations

from django.db import models

__all__ = ["WeChatPayRefund", "WeChatPayTrade"]


class WeChatPayTrade(models.Model):
    """One JSAPI order, from ``/v3/pay/transactions/jsapi`` until paid or closed.

    ``create_params`` is the order request as received, so a repeated create can be told
    apart: identical parameters get the same prepay_id, different ones are refused.
    """

    class TradeState(models.TextChoices):
        NOTPAY = "NOTPAY", "Not paid"
        SUCCESS = "SUCCESS", "Paid"
        CLOSED = "CLOSED", "Closed"
        REFUND = "REFUND", "Paid, then refunded (转入退款)"

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


class WeChatPayRefund(models.Model):
    """One ``/v3/refund/domestic/refunds`` request WeChat Pay accepted, PROCESSING until
    ``due_at`` (``SANDBOX_REFUND_SECONDS`` after it was made; never, when a test completes
    it by hand), then SUCCESS, or CLOSED/ABNORMAL when a test says so."""

    class Status(models.TextChoices):
        PROCESSING = "PROCESSING", "Processing"
        SUCCESS = "SUCCESS", "Succeeded"
        CLOSED = "CLOSED", "Closed (failed)"
        ABNORMAL = "ABNORMAL", "Abnormal (the shopper's card refused it)"

    trade = models.ForeignKey(WeChatPayTrade, on_delete=models.CASCADE, related_name="refunds")
    mchid = models.CharField(max_length=32)
    out_refund_no = models.CharField(max_length=64)
    refund_id = models.CharField(max_length=32, unique=True)
    refund_fen = models.PositiveIntegerField(help_text="amount.refund")
    total_fen = models.PositiveIntegerField(help_text="amount.total, as the request gave it")
    reason = models.CharField(max_length=80, blank=True)
    notify_url = models.CharField(max_length=256, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PROCESSING)
    created_at = models.DateTimeField()
    due_at = models.DateTimeField(null=True, blank=True, help_text="When it succeeds on its own; empty: by hand.")
    success_time = models.DateTimeField(null=True, blank=True)
    notify_attempts = models.PositiveIntegerField(default=0)
    notified_at = models.DateTimeField(null=True, blank=True, help_text="When the merchant acknowledged.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["mchid", "out_refund_no"], name="sandbox_wechatpay_refund_unique_out_refund_no"
            )
        ]

    def __str__(self) -> str:
        return f"{self.out_refund_no} {self.refund_fen} ({self.status})"
