"""Baskets (scan & pay), orders with their event log, and payments.

Orders snapshot everything a refund or a dispute needs (names, unit prices, the pricing
adjustments) so later catalogue changes never rewrite history.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Basket(models.Model):
    """A shopper's scan & pay basket at one store.

    ``open`` takes scans; ``frozen`` while its order awaits payment (scans refused);
    ``checked_out`` once paid; ``expired`` when untouched for too long; ``released`` when
    its unpaid order was closed and the shopper had already opened another basket.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        FROZEN = "frozen", "Frozen for payment"
        CHECKED_OUT = "checked_out", "Checked out"
        EXPIRED = "expired", "Expired"
        RELEASED = "released", "Released"

    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="baskets")
    store = models.ForeignKey("stores.Location", on_delete=models.PROTECT, related_name="baskets")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(help_text="Last scan or change; baskets untouched for long expire.")

    class Meta:
        # The expiry sweep walks open baskets in id order. ``updated_at`` stays out of every
        # index: each scan touches it, and PostgreSQL updates a row in place (HOT, no index
        # entry rewritten) only when no indexed column changes.
        indexes = [models.Index(fields=["id"], condition=Q(status="open"), name="basket_open")]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "store"],
                condition=Q(status__in=["open", "frozen"]),
                name="basket_one_active_per_customer_and_store",
            )
        ]

    def __str__(self) -> str:
        return f"Basket {self.pk} ({self.status})"


class BasketLine(models.Model):
    """One scanned thing. A product code merges into one ``unit`` line per product; every
    scale label is its own line, since each carries its own price or weight."""

    class Kind(models.TextChoices):
        UNIT = "unit", "Unit"
        PRICE_LABEL = "price_label", "Price label"
        WEIGHT_LABEL = "weight_label", "Weight label"

    basket = models.ForeignKey(Basket, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey("stores.Product", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    barcode = models.CharField(max_length=14)
    quantity = models.PositiveSmallIntegerField(default=1)
    weight_g = models.PositiveIntegerField(null=True, blank=True)
    label_price_fen = models.PositiveIntegerField(
        null=True, blank=True, help_text="The price printed on a price label, or weight x price per kg at scan."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["basket", "product"], condition=Q(kind="unit"), name="basket_line_one_unit_line_per_product"
            ),
            models.CheckConstraint(
                condition=Q(quantity__gte=1) & Q(quantity__lte=99), name="basket_line_quantity_1_to_99"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.product_id}"


class Order(models.Model):
    class Channel(models.TextChoices):
        IN_STORE = "in_store", "In store (scan & pay)"
        DELIVERY = "delivery", "Next-day delivery"
        PICKUP = "pickup", "Store pick-up"
        ONLINE = "online", "Online (gift cards)"

    class Kind(models.TextChoices):
        GOODS = "goods", "Goods"
        GIFT_CARD = "gift_card", "Gift card purchase"
        GIFT_CARD_TOP_UP = "gift_card_top_up", "Gift card top-up"

    class State(models.TextChoices):
        PENDING_PAYMENT = "pending_payment", "Pending payment"
        PAID = "paid", "Paid"
        CANCELLED = "cancelled", "Cancelled"
        CLOSED = "closed", "Closed (not paid in time)"
        REFUNDED = "refunded", "Refunded"
        PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"

    class PaymentMethod(models.TextChoices):
        WECHAT_PAY = "wechat_pay", "WeChat Pay"
        ALIPAY = "alipay", "Alipay"

    number = models.CharField(max_length=32, unique=True)
    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.GOODS)
    store = models.ForeignKey("stores.Location", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    basket = models.ForeignKey(Basket, on_delete=models.PROTECT, null=True, blank=True, related_name="orders")
    state = models.CharField(max_length=24, choices=State.choices, default=State.PENDING_PAYMENT)
    payment_method = models.CharField(max_length=16, choices=PaymentMethod.choices)
    item_count = models.PositiveIntegerField()
    goods_subtotal_fen = models.PositiveIntegerField()
    discount_fen = models.PositiveIntegerField(default=0)
    delivery_fee_fen = models.PositiveIntegerField(default=0)
    total_fen = models.PositiveIntegerField()
    gift_card_fen = models.PositiveIntegerField(
        default=0, help_text="What the shopper's gift cards pay of the total; the external payment is the rest."
    )
    refunded_fen = models.PositiveIntegerField(default=0, help_text="Refunded so far, every tender together.")
    gift_card = models.ForeignKey(
        "promotions.GiftCard",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Gift-card orders: the card issued (once paid) or topped up.",
    )
    adjustments = models.JSONField(default=list, blank=True, help_text="The pricing engine's explanation.")
    created_at = models.DateTimeField(auto_now_add=True)
    payment_deadline = models.DateTimeField(help_text="Unpaid after this, the order is closed.")
    paid_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    stock_committed_at = models.DateTimeField(
        null=True, blank=True, help_text="When what was sold left the store's stock (once, after payment)."
    )
    # Delivery and pick-up orders: where and when, copied at checkout, and why from where.
    city = models.ForeignKey("stores.City", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    delivery_address = models.JSONField(
        null=True, blank=True, help_text="The address as it was at checkout: recipient, phone, text, coordinates."
    )
    slot_date = models.DateField(null=True, blank=True)
    slot = models.CharField(max_length=16, blank=True, help_text='"HH:MM-HH:MM", or "express".')
    routing = models.JSONField(
        default=dict, blank=True, help_text="Why each shipment comes from where it does (distances, skipped locations)."
    )
    delivered_at = models.DateTimeField(
        null=True, blank=True, help_text="When the last shipment was delivered: the 14-day return window starts."
    )
    pickup_code = models.CharField(
        max_length=12, blank=True, help_text="Pick-up orders: the code (and QR) the shopper shows at the station."
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["state", "payment_deadline"]), models.Index(fields=["customer", "-created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    total_fen=models.F("goods_subtotal_fen") - models.F("discount_fen") + models.F("delivery_fee_fen")
                ),
                name="order_total_adds_up",
            ),
            models.CheckConstraint(
                condition=Q(gift_card_fen__lte=models.F("total_fen")), name="order_gift_cards_within_total"
            ),
            models.CheckConstraint(
                condition=Q(refunded_fen__lte=models.F("total_fen")), name="order_refunds_within_total"
            ),
        ]

    def __str__(self) -> str:
        return self.number


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey("stores.Product", on_delete=models.PROTECT, related_name="+")
    sku = models.CharField(max_length=32)
    name = models.CharField(max_length=200)
    barcode = models.CharField(max_length=14, blank=True)
    kind = models.CharField(max_length=16, choices=BasketLine.Kind.choices)
    quantity = models.PositiveIntegerField()
    weight_g = models.PositiveIntegerField(null=True, blank=True)
    unit_price_fen = models.PositiveIntegerField(help_text="Per unit, or per kg for weighed goods.")
    line_total_fen = models.PositiveIntegerField(help_text="Before discounts.")
    discount_fen = models.PositiveIntegerField(default=0, help_text="Order-level discounts allocated to this line.")
    age_restricted = models.BooleanField(default=False)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"


class OrderEvent(models.Model):
    """Append-only: every state change and notable fact staff may ask about."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=48)
    from_state = models.CharField(max_length=24, blank=True)
    to_state = models.CharField(max_length=24, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.type} {self.from_state}->{self.to_state}"


class Payment(models.Model):
    class Provider(models.TextChoices):
        WECHAT_PAY = "wechat_pay", "WeChat Pay"
        ALIPAY = "alipay", "Alipay"

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        PAID = "paid", "Paid"
        CLOSED = "closed", "Closed"
        FAILED = "failed", "Failed"

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments")
    provider = models.CharField(max_length=16, choices=Provider.choices)
    out_trade_no = models.CharField(max_length=32, unique=True)
    amount_fen = models.PositiveIntegerField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    provider_trade_id = models.CharField(max_length=64, blank=True)
    client_params = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    last_queried_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["state", "created_at"])]

    def __str__(self) -> str:
        return f"{self.provider} {self.out_trade_no} ({self.state})"


class Gate(models.Model):
    """An exit gate device at a store. It authenticates with its own credential: a public
    ``key_id`` and a secret shown once at creation, of which only the SHA-256 is kept."""

    store = models.ForeignKey("stores.Location", on_delete=models.PROTECT, related_name="gates")
    name = models.CharField(max_length=64)
    key_id = models.CharField(max_length=32, unique=True)
    secret_hash = models.CharField(max_length=64)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["store_id", "name"]
        constraints = [models.UniqueConstraint(fields=["store", "name"], name="gate_unique_name_per_store")]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_id})"


class ExitPass(models.Model):
    """The signed permission to leave with a paid in-store order. One live pass per order;
    a fresh one (after expiry) supersedes the old. ``used_at`` is set once, atomically."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="exit_passes")
    store = models.ForeignKey("stores.Location", on_delete=models.PROTECT, related_name="+")
    key_id = models.CharField(max_length=4)
    token = models.CharField(max_length=256)
    item_count = models.PositiveIntegerField()
    total_fen = models.PositiveIntegerField()
    audit = models.BooleanField(default=False, help_text="Staff check the basket before the gate opens.")
    audit_reasons = models.JSONField(default=list, blank=True)
    age_restricted_items = models.JSONField(default=list, blank=True)
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    superseded_at = models.DateTimeField(null=True, blank=True)
    used_at = models.DateTimeField(null=True, blank=True)
    used_gate = models.ForeignKey(Gate, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["order"], condition=Q(superseded_at__isnull=True), name="exit_pass_one_live_per_order"
            )
        ]

    def __str__(self) -> str:
        return f"Exit pass {self.pk} for {self.order_id}"


class GateEvent(models.Model):
    """Append-only: every decision a gate made, online or (uploaded later) offline.

    An ``audit`` decision is itself the audit to resolve: its resolution is a later event
    pointing back at it through ``resolves`` (unique, so it is resolved once)."""

    class Decision(models.TextChoices):
        OPEN = "open", "Open"
        DENY = "deny", "Deny"
        AUDIT = "audit", "Audit"

    gate = models.ForeignKey(Gate, on_delete=models.PROTECT, related_name="events")
    exit_pass = models.ForeignKey(ExitPass, on_delete=models.PROTECT, null=True, blank=True, related_name="events")
    decision = models.CharField(max_length=8, choices=Decision.choices)
    reason = models.CharField(max_length=32)
    data = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField(help_text="When the gate decided (its clock, for offline decisions).")
    recorded_at = models.DateTimeField(auto_now_add=True)
    offline = models.BooleanField(default=False)
    resolves = models.OneToOneField("self", on_delete=models.PROTECT, null=True, blank=True, related_name="resolution")

    class Meta:
        ordering = ["-occurred_at", "-pk"]
        indexes = [models.Index(fields=["gate", "occurred_at"]), models.Index(fields=["decision", "occurred_at"])]

    def __str__(self) -> str:
        return f"{self.decision}/{self.reason} at {self.gate_id}"


from .after_payment_models import AfterPaymentJob  # noqa: E402
from .delivery_models import (  # noqa: E402
    Address,
    Cart,
    CartLine,
    Courier,
    CourierEvent,
    Notification,
    PickList,
    Shipment,
    ShipmentLine,
    SlotCapacity,
)
from .returns_models import Refund, Return, ReturnLine  # noqa: E402

__all__ = [
    "Address",
    "AfterPaymentJob",
    "Basket",
    "BasketLine",
    "Cart",
    "CartLine",
    "Courier",
    "CourierEvent",
    "ExitPass",
    "Gate",
    "GateEvent",
    "Notification",
    "Order",
    "OrderEvent",
    "OrderLine",
    "Payment",
    "PickList",
    "Refund",
    "Return",
    "ReturnLine",
    "Shipment",
    "ShipmentLine",
    "SlotCapacity",
]
