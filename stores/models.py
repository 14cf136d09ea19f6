"""Where things are sold and what is sold there.

A location *carries* a product when it has a ``Stock`` row for it; its price there is the
``LocationPrice`` override if any, else the product's base price. Weighed products are
priced per kilogram.
"""

from __future__ import annotations

import datetime

from django.db import models
from django.db.models import F, Q

DEFAULT_DELIVERY_SLOTS = ("09:00-12:00", "12:00-15:00", "15:00-18:00", "18:00-21:00")


def default_delivery_slots() -> list[str]:
    return list(DEFAULT_DELIVERY_SLOTS)


class City(models.Model):
    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=64)
    name_zh = models.CharField(max_length=32, blank=True)
    latitude = models.DecimalField(max_digits=9, decimal_places=6)
    longitude = models.DecimalField(max_digits=9, decimal_places=6)
    service_radius_km = models.PositiveIntegerField(
        default=60, help_text="Addresses farther than this from the city centre are outside the service area."
    )
    delivery_cutoff = models.TimeField(
        default=datetime.time(22, 0),
        help_text="Local time: orders checked out before it are delivered the next day, later ones the day after.",
    )
    delivery_slots = models.JSONField(
        default=default_delivery_slots,
        help_text='Next-day delivery windows, local "HH:MM-HH:MM", e.g. ["09:00-12:00", "12:00-15:00"].',
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "cities"

    def __str__(self) -> str:
        return self.name


class Location(models.Model):
    """A fulfilment location: a store (shoppers walk in) or a partner warehouse."""

    class Kind(models.TextChoices):
        STORE = "store", "Store"
        WAREHOUSE = "warehouse", "Warehouse"

    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=128)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.STORE)
    city = models.ForeignKey(City, on_delete=models.PROTECT, related_name="locations")
    address = models.CharField(max_length=255)
    latitude = models.DecimalField(max_digits=9, decimal_places=6)
    longitude = models.DecimalField(max_digits=9, decimal_places=6)
    opens_at = models.TimeField(help_text="Local (Asia/Shanghai) opening time.")
    closes_at = models.TimeField(
        help_text="Local closing time; before opens_at means open past midnight, equal to it open 24 hours."
    )
    scan_and_go_enabled = models.BooleanField(default=False)
    has_pickup_station = models.BooleanField(default=False)
    offers_express = models.BooleanField(
        default=False, help_text="Delivers within an hour to addresses nearby (stores only)."
    )
    slot_capacity = models.PositiveIntegerField(
        default=40, help_text="Deliveries (or pick-ups) this location can fulfil per slot."
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        indexes = [models.Index(fields=["city", "kind", "active"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(latitude__gte=-90) & Q(latitude__lte=90), name="location_latitude_range"
            ),
            models.CheckConstraint(
                condition=Q(longitude__gte=-180) & Q(longitude__lte=180), name="location_longitude_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    def is_open_at(self, local_time) -> bool:
        """Whether the location is open at a local (Asia/Shanghai) wall-clock time.

        Equal opening and closing times mean open around the clock."""
        if self.opens_at == self.closes_at:
            return True
        if self.opens_at < self.closes_at:
            return self.opens_at <= local_time < self.closes_at
        return local_time >= self.opens_at or local_time < self.closes_at


class Brand(models.Model):
    name = models.CharField(max_length=128, unique=True)
    name_zh = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Category(models.Model):
    name = models.CharField(max_length=128)
    name_zh = models.CharField(max_length=64, blank=True)
    slug = models.SlugField(max_length=64, unique=True)
    parent = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="children")

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    sku = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="products")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    launch_date = models.DateField(null=True, blank=True, help_text="Products launched recently are listed as new.")
    age_restricted = models.BooleanField(default=False, help_text="Alcohol and tobacco: staff check age at the exit.")
    sold_by_weight = models.BooleanField(default=False, help_text="Priced per kilogram and sold with in-store codes.")
    plu_code = models.CharField(
        max_length=6,
        unique=True,
        null=True,
        blank=True,
        help_text="Item code printed in in-store variable-measure barcodes (prefix 20-29).",
    )
    base_price_fen = models.PositiveIntegerField(help_text="Price in fen; per kilogram when sold by weight.")
    image_url = models.URLField(max_length=500, blank=True)
    description = models.TextField(blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["launch_date"]), models.Index(fields=["name"])]
        constraints = [models.CheckConstraint(condition=Q(base_price_fen__gt=0), name="product_base_price_positive")]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"


class Barcode(models.Model):
    """A GTIN printed on a product, stored as its 14-digit form so UPC-A, EAN-13 and
    GTIN-14 spellings of one code are one row; ``code`` keeps the printed form."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="barcodes")
    gtin = models.CharField(max_length=14, unique=True)
    code = models.CharField(max_length=14)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.code


class LocationPrice(models.Model):
    """A location's own price for a product, overriding the base price."""

    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="prices")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="location_prices")
    price_fen = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["location", "product"], name="location_price_unique"),
            models.CheckConstraint(condition=Q(price_fen__gt=0), name="location_price_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.product_id}@{self.location_id}: {self.price_fen}"


class Stock(models.Model):
    """What a location holds of a product. ``reserved`` is promised to unpaid or
    undispatched orders; available = on_hand - reserved. Quantities are units, or grams
    for weighed products."""

    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="stock")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="stock")
    on_hand = models.IntegerField(default=0)
    reserved = models.IntegerField(default=0)

    class Meta:
        verbose_name_plural = "stock"
        constraints = [
            models.UniqueConstraint(fields=["location", "product"], name="stock_unique"),
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="stock_on_hand_not_negative"),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="stock_reserved_not_negative"),
            models.CheckConstraint(condition=Q(reserved__lte=F("on_hand")), name="stock_reserved_within_on_hand"),
        ]

    def __str__(self) -> str:
        return f"{self.product_id}@{self.location_id}: {self.on_hand} ({self.reserved} reserved)"

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved
