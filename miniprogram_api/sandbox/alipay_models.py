"""Alipay trades and their refunds kept by the sandbox, as Alipay's side of
``alipay.trade.*`` knows them."""

from django.db import models

__all__ = ["AlipayRefund", "AlipayTrade"]


class AlipayTrade(models.Model):
    """One ``alipay.trade.create``: amounts stay Alipay's yuan strings ("169.00")."""

    class Status(models.TextChoices):
        WAIT_BUYER_PAY = "WAIT_BUYER_PAY", "Waiting for the buyer"
        TRADE_SUCCESS = "TRADE_SUCCESS", "Paid"
        TRADE_FINISHED = "TRADE_FINISHED", "Finished (no more refunds)"
        TRADE_CLOSED = "TRADE_CLOSED", "Closed"

    app_id = models.CharField(max_length=32)
    out_trade_no = models.CharField(max_length=64, help_text="Unique per app, as at Alipay.")
    trade_no = models.CharField(max_length=64, unique=True)
    total_amount = models.CharField(max_length=16)
    subject = models.CharField(max_length=256)
    product_code = models.CharField(max_length=32, blank=True)
    seller_id = models.CharField(max_length=32)
    buyer_id = models.CharField(max_length=32, blank=True, help_text="Bound when the shopper pays.")
    buyer_open_id = models.CharField(max_length=64, blank=True)
    notify_url = models.CharField(max_length=256, blank=True)
    time_expire = models.DateTimeField(null=True, blank=True)
    trade_status = models.CharField(max_length=16, choices=Status.choices, default=Status.WAIT_BUYER_PAY)
    gmt_payment = models.DateTimeField(null=True, blank=True)
    gmt_close = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["app_id", "out_trade_no"], name="sandbox_alipay_trade_unique_out_trade_no")
        ]

    def __str__(self) -> str:
        return f"{self.out_trade_no} {self.trade_no} ({self.trade_status})"


class AlipayRefund(models.Model):
    """One ``alipay.trade.refund`` that moved money: Alipay refunds synchronously, so a
    refund kept here has succeeded. ``out_request_no`` is unique per trade."""

    trade = models.ForeignKey(AlipayTrade, on_delete=models.CASCADE, related_name="refunds")
    out_request_no = models.CharField(max_length=64)
    refund_fen = models.PositiveIntegerField(help_text="refund_amount, in fen")
    refund_reason = models.CharField(max_length=256, blank=True)
    gmt_refund_pay = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["trade", "out_request_no"], name="sandbox_alipay_refund_unique_out_request_no"
            )
        ]

    def __str__(self) -> str:
        return f"{self.trade.out_trade_no}/{self.out_request_no} {self.refund_fen}"
