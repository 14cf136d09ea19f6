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
