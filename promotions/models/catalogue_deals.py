"""Catalogue deals, which change a line's price before any coupon: flash sales and the
Brand of the Day."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from .windows import Channels, Windowed, window_constraint


class FlashSale(Windowed):
    Channels = Channels

    name = models.CharField(max_length=100)
    channels = models.CharField(max_length=16, choices=Channels.choices, default=Channels.BOTH)

    class Meta:
        ordering = ["-starts_at"]
        constraints = [window_constraint("flash_sale_window_ordered")]

    def __str__(self) -> str:
        return self.name


class FlashSaleItem(models.Model):
    """A product at its flash price. ``sold`` counts units held by unpaid orders and sold;
    it moves only under this row's lock and never past ``quota`` (a CHECK says so too)."""

    sale = models.ForeignKey(FlashSale, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey("stores.Product", on_delete=models.PROTECT, related_name="+")
    flash_price_fen = models.PositiveIntegerField()
    quota = models.PositiveIntegerField()
    sold = models.PositiveIntegerField(default=0, editable=False)
    per_customer_limit = models.PositiveSmallIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sale", "product"], name="flash_sale_item_unique"),
            models.CheckConstraint(condition=Q(sold__lte=F("quota")), name="flash_sale_item_sold_within_quota"),
            models.CheckConstraint(condition=Q(flash_price_fen__gt=0), name="flash_sale_item_price_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.product_id} @ {self.flash_price_fen}"

    @property
    def remaining(self) -> int:
        return self.quota - self.sold


class FlashSaleReservation(models.Model):
    """Units of a flash-sale item taken by one order: ``held`` until paid, then ``sold``;
    ``released`` (and given back to the quota) if the order is closed or cancelled."""

    class Status(models.TextChoices):
        HELD = "held", "Held by an unpaid order"
        SOLD = "sold", "Sold"
        RELEASED = "released", "Released"

    item = models.ForeignKey(FlashSaleItem, on_delete=models.PROTECT, related_name="reservations")
    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    order_id = models.PositiveBigIntegerField()
    quantity = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.HELD)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["order_id"]), models.Index(fields=["item", "customer"])]
        constraints = [
            models.UniqueConstraint(fields=["item", "order_id"], name="flash_sale_reservation_one_per_order")
        ]

    def __str__(self) -> str:
        return f"{self.quantity} of {self.item_id} for order {self.order_id}"


class BrandOfTheDay(models.Model):
    """A brand at a percentage off for one Shanghai calendar day."""

    date = models.DateField(unique=True)
    brand = models.ForeignKey("stores.Brand", on_delete=models.PROTECT, related_name="+")
    percent_off = models.PositiveSmallIntegerField()
    label = models.CharField(max_length=100, blank=True, help_text="Shown to shoppers; default 'Brand of the Day'.")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["-date"]
        verbose_name_plural = "brands of the day"
        constraints = [
            models.CheckConstraint(
                condition=Q(percent_off__gte=1) & Q(percent_off__lte=90), name="brand_of_the_day_percent_1_to_90"
            )
        ]

    def __str__(self) -> str:
        return f"{self.date}: {self.brand_id} -{self.percent_off}%"
