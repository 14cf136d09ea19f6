"""Returns (what the shopper brings back) and refunds (the money, one row per tender).

A ``Return`` is accepted whole or not at all: its lines, the order's new state and one
``Refund`` per tender are written in one transaction under the order's row lock, so two
returns of the last unit cannot both pass. Gift-card refunds are credited in that same
transaction; refunds to WeChat Pay or Alipay are sent after it commits and followed up
(notification, polling) until the provider says they succeeded.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Return(models.Model):
    """A no-questions return of some of an order's lines.

    ``refund_state`` follows the money (``refunding`` until every refund succeeded,
    ``refunded`` then, ``needs_attention`` if a provider refused one: staff act);
    ``goods_state`` follows the goods, which go back on the shelf (stock) when staff mark
    them received at the service desk or the warehouse."""

    class RefundState(models.TextChoices):
        REFUNDING = "refunding", "Refunding"
        REFUNDED = "refunded", "Refunded"
        NEEDS_ATTENTION = "needs_attention", "Needs staff attention"

    class GoodsState(models.TextChoices):
        AWAITED = "awaited", "Awaited"
        RECEIVED = "received", "Received, back in stock"

    number = models.CharField(max_length=40, unique=True)
    order = models.ForeignKey("checkout.Order", on_delete=models.PROTECT, related_name="returns")
    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=200, blank=True)
    goods_fen = models.PositiveIntegerField(help_text="The returned lines' share after discounts.")
    delivery_fee_fen = models.PositiveIntegerField(default=0, help_text="Refunded when the whole order comes back.")
    amount_fen = models.PositiveIntegerField(help_text="goods_fen + delivery_fee_fen: what is refunded.")
    refund_state = models.CharField(max_length=16, choices=RefundState.choices, default=RefundState.REFUNDING)
    goods_state = models.CharField(max_length=16, choices=GoodsState.choices, default=GoodsState.AWAITED)
    full = models.BooleanField(default=False, help_text="This return brought back everything left of the order.")
    created_at = models.DateTimeField(auto_now_add=True)
    refunded_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    received_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_fen=models.F("goods_fen") + models.F("delivery_fee_fen")),
                name="return_amount_adds_up",
            )
        ]

    def __str__(self) -> str:
        return self.number


class ReturnLine(models.Model):
    return_request = models.ForeignKey(Return, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey("checkout.OrderLine", on_delete=models.PROTECT, related_name="returned")
    quantity = models.PositiveIntegerField()
    refund_fen = models.PositiveIntegerField()

    class Meta:
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=Q(quantity__gte=1), name="return_line_quantity_positive")]

    def __str__(self) -> str:
        return f"{self.quantity} x line {self.order_line_id}"


class Refund(models.Model):
    """The money going back to one tender. External refunds: ``pending`` (written, not yet
    accepted by the provider) -> ``processing`` -> ``succeeded`` (or ``failed``: staff);
    ``out_refund_no`` is the idempotency key at the provider, so sending again is safe.
    Gift-card refunds are ``succeeded`` when written."""

    class Tender(models.TextChoices):
        WECHAT_PAY = "wechat_pay", "WeChat Pay"
        ALIPAY = "alipay", "Alipay"
        GIFT_CARD = "gift_card", "Gift card"

    class State(models.TextChoices):
        PENDING = "pending", "Pending (not yet sent)"
        PROCESSING = "processing", "Processing at the provider"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed (staff)"

    return_request = models.ForeignKey(Return, on_delete=models.PROTECT, related_name="refunds")
    order = models.ForeignKey("checkout.Order", on_delete=models.PROTECT, related_name="refunds")
    tender = models.CharField(max_length=16, choices=Tender.choices)
    payment = models.ForeignKey("checkout.Payment", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    gift_card = models.ForeignKey(
        "promotions.GiftCard", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    out_refund_no = models.CharField(max_length=64, unique=True)
    amount_fen = models.PositiveIntegerField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    provider_refund_id = models.CharField(max_length=64, blank=True)
    failure_code = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict, blank=True, help_text="Where a gift-card refund went; provider details.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["state", "last_attempt_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(amount_fen__gte=1), name="refund_amount_positive"),
            models.CheckConstraint(
                condition=Q(tender="gift_card", gift_card__isnull=False, payment__isnull=True)
                | (~Q(tender="gift_card") & Q(payment__isnull=False, gift_card__isnull=True)),
                name="refund_names_its_tender",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tender} {self.out_refund_no} {self.amount_fen} ({self.state})"
