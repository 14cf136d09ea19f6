"""Next-day delivery and pick-up: addresses, carts, slot capacity and shipments.

Imported by ``checkout.models`` so Django registers them with the app.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class Address(models.Model):
    """Where a shopper has things delivered. The mini-program's location picker gives the
    coordinates; orders copy the address, so editing or deleting one rewrites no order."""

    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="addresses")
    city = models.ForeignKey("stores.City", on_delete=models.PROTECT, related_name="+")
    recipient = models.CharField(max_length=64)
    phone = models.CharField(max_length=20)
    text = models.CharField(max_length=255, help_text="Street, building, floor and door, as the shopper wrote it.")
    latitude = models.DecimalField(max_digits=9, decimal_places=6)
    longitude = models.DecimalField(max_digits=9, decimal_places=6)
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-is_default", "-id"]
        verbose_name_plural = "addresses"
        constraints = [
            models.UniqueConstraint(
                fields=["customer"], condition=Q(is_default=True), name="address_one_default_per_customer"
            ),
            models.CheckConstraint(condition=Q(latitude__gte=-90) & Q(latitude__lte=90), name="address_latitude_range"),
            models.CheckConstraint(
                condition=Q(longitude__gte=-180) & Q(longitude__lte=180), name="address_longitude_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.recipient}, {self.text}"


class Cart(models.Model):
    """A shopper's delivery cart in one city: the whole assortment sold in that city."""

    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="carts")
    city = models.ForeignKey("stores.City", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["customer", "city"], name="cart_one_per_customer_and_city")]

    def __str__(self) -> str:
        return f"Cart {self.pk} ({self.city_id})"


class CartLine(models.Model):
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey("stores.Product", on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["cart", "product"], name="cart_line_one_per_product"),
            models.CheckConstraint(
                condition=Q(quantity__gte=1) & Q(quantity__lte=99), name="cart_line_quantity_1_to_99"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.product_id}"


class SlotCapacity(models.Model):
    """How many orders a fulfilment location has promised for one slot of one day.
    ``taken`` moves only by conditional UPDATE and never past ``capacity`` (a CHECK too).
    ``slot`` is a window "HH:MM-HH:MM", or "express"."""

    location = models.ForeignKey("stores.Location", on_delete=models.CASCADE, related_name="+")
    date = models.DateField()
    slot = models.CharField(max_length=16)
    capacity = models.PositiveIntegerField()
    taken = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name_plural = "slot capacities"
        constraints = [
            models.UniqueConstraint(fields=["location", "date", "slot"], name="slot_capacity_unique"),
            models.CheckConstraint(condition=Q(taken__lte=F("capacity")), name="slot_capacity_not_exceeded"),
        ]

    def __str__(self) -> str:
        return f"{self.location_id} {self.date} {self.slot}: {self.taken}/{self.capacity}"


class Shipment(models.Model):
    """What one fulfilment location sends (or hands over at its pick-up station) for an
    order: an order split over locations has one shipment per location."""

    class Status(models.TextChoices):
        PENDING_PAYMENT = "pending_payment", "Awaiting payment"
        AWAITING_PICK = "awaiting_pick", "Paid, awaiting picking"
        PICKING = "picking", "On a pick list"
        DISPATCHED = "dispatched", "Dispatched to a courier"
        PICKED_UP = "picked_up", "Picked up by the courier"
        READY_FOR_PICKUP = "ready_for_pickup", "Ready at the pick-up station"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Delivery failed"
        CANCELLED = "cancelled", "Cancelled"

    order = models.ForeignKey("checkout.Order", on_delete=models.CASCADE, related_name="shipments")
    location = models.ForeignKey("stores.Location", on_delete=models.PROTECT, related_name="shipments")
    slot_date = models.DateField()
    slot = models.CharField(max_length=16)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.PENDING_PAYMENT)
    distance_m = models.PositiveIntegerField(help_text="Great-circle distance from the location to the address.")
    pick_list = models.ForeignKey(
        "checkout.PickList", on_delete=models.SET_NULL, null=True, blank=True, related_name="shipments"
    )
    courier = models.ForeignKey(
        "checkout.Courier", on_delete=models.PROTECT, null=True, blank=True, related_name="shipments"
    )
    tracking_no = models.CharField(max_length=64, blank=True, help_text="The courier provider's waybill number.")
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Dispatches so far (a failed delivery retries).")
    failure_reason = models.CharField(max_length=200, blank=True)
    ready_at = models.DateTimeField(null=True, blank=True, help_text="Pick-up: when it reached the station.")
    stock_released_at = models.DateTimeField(null=True, blank=True)
    stock_consumed_at = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["status", "slot_date", "slot"])]

    def __str__(self) -> str:
        return f"Shipment {self.pk} of {self.order_id} from {self.location_id}"


class ShipmentLine(models.Model):
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey("checkout.OrderLine", on_delete=models.CASCADE, related_name="+")
    product = models.ForeignKey("stores.Product", on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.product_id}"


class Courier(models.Model):
    """A courier (or a courier company's rider) serving one city. ``slot_capacity`` is how
    many shipments they take per slot; ``provider_ref`` names them at the courier provider."""

    city = models.ForeignKey("stores.City", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=64)
    phone = models.CharField(max_length=20, blank=True)
    provider_ref = models.CharField(max_length=64, blank=True)
    slot_capacity = models.PositiveIntegerField(default=12)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["city", "name"]

    def __str__(self) -> str:
        return self.name


class PickList(models.Model):
    """The paid shipments one location picks for one slot, batched after the cut-off."""

    location = models.ForeignKey("stores.Location", on_delete=models.PROTECT, related_name="+")
    slot_date = models.DateField()
    slot = models.CharField(max_length=16)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-slot_date", "slot", "location"]
        constraints = [
            models.UniqueConstraint(fields=["location", "slot_date", "slot"], name="pick_list_one_per_location_slot")
        ]

    def __str__(self) -> str:
        return f"Pick list {self.location_id} {self.slot_date} {self.slot}"


class CourierEvent(models.Model):
    """Every event a courier provider reported through the signed webhook, kept once per
    ``event_id`` (a redelivered webhook changes nothing)."""

    class Kind(models.TextChoices):
        PICKED_UP = "picked_up", "Picked up"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    event_id = models.CharField(max_length=64, unique=True)
    shipment = models.ForeignKey("checkout.Shipment", on_delete=models.PROTECT, related_name="courier_events")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    occurred_at = models.DateTimeField()
    payload = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.shipment_id}"


class Notification(models.Model):
    """A WeChat subscribe message to a shopper about an order, once per order and kind."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        REFUSED = "refused", "Shopper has not subscribed"
        FAILED = "failed", "Failed"

    order = models.ForeignKey("checkout.Order", on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=32, help_text="paid, dispatched, delivered, ready_for_pickup, ...")
    template_id = models.CharField(max_length=64)
    data = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    error = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    attempted_at = models.DateTimeField(
        null=True, blank=True, help_text="When the attempt under way began; another waits until it is stale."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["status", "created_at"])]
        constraints = [models.UniqueConstraint(fields=["order", "kind"], name="notification_once_per_order_kind")]

    def __str__(self) -> str:
        return f"{self.kind} for {self.order_id} ({self.status})"
